using System.Collections.Immutable;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using TestGrid.Engine;
using TestGrid.Engine.Storage;
using TestGrid.Results;
using TestGrid.Tests.StorageProcess;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Engine;

/// <summary>
/// SQLite grain storage in real Orleans silos on real files: state outlives the silo and the process (a writer killed
/// with SIGKILL loses no acknowledged write), ETags keep two silos on one file from overwriting each other, clear,
/// large states, readers and writers on one file at once; and the provider on its own: ETag rules, damaged files.
/// </summary>
[TestFixture]
public sealed class SqliteGrainStorageTests
{
    private const string ServiceId = "storage-tests";
    private string _folder = null!;

    /// <summary>The database file, in a folder that does not exist yet: the provider makes it.</summary>
    private string Database => Path.Combine(_folder, "nested", "grains.db");

    [SetUp]
    public void MakeFolder() => _folder = Directory.CreateTempSubdirectory("testgrid-storage-").FullName;

    [TearDown]
    public void RemoveFolder()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    // ---- in real silos ----

    [Test]
    public async Task State_written_by_one_silo_is_read_back_after_deactivation_and_by_a_new_silo_on_the_same_file()
    {
        var attempts = ImmutableArray.Create(Sample.StoredAttempt(1), Sample.StoredAttempt(2));
        StorageTestSnapshot written;
        await using (var silo = await Silo.StartAsync(Database))
        {
            var grain = silo.Grain("run-1");
            written = await grain.SetAsync("checkpoint", [1, 2, 3], attempts);
            Assert.That((written.RecordExists, written.ETag), Is.EqualTo((true, "1")));

            await grain.DeactivateAsync();
            var reactivated = await grain.GetAsync();
            Assert.That(reactivated.Text, Is.EqualTo("checkpoint"), "a new activation read the state from the file");
            Assert.That(reactivated.ETag, Is.EqualTo("1"));
        }

        Assert.That(File.Exists(Database), "the provider made the file and its folder");
        await using (var silo = await Silo.StartAsync(Database))
        {
            var read = await silo.Grain("run-1").GetAsync();
            Assert.That((read.Text, read.Blob, read.RecordExists, read.ETag), Is.EqualTo(("checkpoint", new byte[] { 1, 2, 3 }, true, "1")));
            AssertSameAttempts(read.Attempts, attempts);
            var fresh = await silo.Grain("never-written").GetAsync();
            Assert.That((fresh.Text, fresh.Count, fresh.RecordExists, fresh.ETag), Is.EqualTo(((string?)null, 0, false, (string?)null)));
        }

        Assert.That(await PragmaAsync(Database, "journal_mode"), Is.EqualTo("wal"));
    }

    [Test]
    public async Task Two_silos_writing_one_grain_in_the_same_file_get_an_InconsistentStateException_with_both_ETags()
    {
        await using var a = await Silo.StartAsync(Database);
        await using var b = await Silo.StartAsync(Database);
        // Each silo is its own cluster, so each has its own activation of the grain: both read "no record".
        Assert.That((await a.Grain("shared").GetAsync()).ETag, Is.Null);
        Assert.That((await b.Grain("shared").GetAsync()).ETag, Is.Null);

        await a.Grain("shared").SetAsync("from a", [], []);
        var first = Assert.ThrowsAsync<InconsistentStateException>(() => b.Grain("shared").SetAsync("from b", [], []));
        Assert.That((first!.StoredEtag, first.CurrentEtag), Is.EqualTo(("1", (string?)null)));
        Assert.That(first.Message, Does.Contain("holds ETag none").And.Contain("file holds ETag 1").And.Contain(Database));

        // Orleans ends the activation that conflicted; b's next call reads a's state and may write on top of it.
        var reread = await b.Grain("shared").GetAsync();
        Assert.That((reread.Text, reread.ETag), Is.EqualTo(("from a", "1")));
        Assert.That((await b.Grain("shared").SetAsync("from b", [], [])).ETag, Is.EqualTo("2"));

        var second = Assert.ThrowsAsync<InconsistentStateException>(() => a.Grain("shared").SetAsync("from a again", [], []));
        Assert.That((second!.StoredEtag, second.CurrentEtag), Is.EqualTo(("2", "1")));
        Assert.That((await a.Grain("shared").GetAsync()).Text, Is.EqualTo("from b"), "the losing write changed nothing");
    }

    [Test]
    public async Task A_cleared_state_reads_as_no_record_in_a_new_silo_and_can_be_written_again()
    {
        await using (var silo = await Silo.StartAsync(Database))
        {
            var grain = silo.Grain("cleared");
            await grain.SetAsync("doomed", [9], [Sample.StoredAttempt(1)]);
            await grain.ClearAsync();
            var after = await grain.GetAsync();
            Assert.That((after.Text, after.Blob.Length, after.Attempts.Length, after.RecordExists, after.ETag), Is.EqualTo(((string?)null, 0, 0, false, "2")));
        }

        await using (var silo = await Silo.StartAsync(Database))
        {
            var grain = silo.Grain("cleared");
            var read = await grain.GetAsync();
            Assert.That((read.Text, read.RecordExists, read.ETag), Is.EqualTo(((string?)null, false, "2")),
                "the record is gone; its version stays, so no ETag from before the clear can match again");
            var rewritten = await grain.SetAsync("again", [], []);
            Assert.That((rewritten.RecordExists, rewritten.ETag), Is.EqualTo((true, "3")));
        }
    }

    [Test]
    public async Task A_2_MB_state_round_trips_through_a_silo_restart()
    {
        var blob = new byte[2 * 1024 * 1024];
        new Random(5).NextBytes(blob);
        var clock = Stopwatch.StartNew();
        await using (var silo = await Silo.StartAsync(Database))
        {
            clock.Restart();
            await silo.Grain("big").SetAsync("big", blob, []);
            TestContext.Out.WriteLine($"2 MB write through the grain: {clock.ElapsedMilliseconds} ms");
        }

        await using (var silo = await Silo.StartAsync(Database))
        {
            clock.Restart();
            var read = await silo.Grain("big").GetAsync();
            TestContext.Out.WriteLine($"2 MB activation + read: {clock.ElapsedMilliseconds} ms");
            Assert.That(read.Blob.AsSpan().SequenceEqual(blob), "every byte came back");
            Assert.That(new FileInfo(Database).Length + WalLength(Database), Is.GreaterThan(blob.Length), "the bytes are in the file");
        }
    }

    [Test]
    public async Task Two_silos_on_one_file_write_and_read_at_once_without_a_locked_database()
    {
        const int Writes = 40;
        await using var writer = await Silo.StartAsync(Database);
        await using var other = await Silo.StartAsync(Database);

        var clock = Stopwatch.StartNew();
        // Eight grains write at once, four in each silo, 64 KB each write; meanwhile the other silo keeps reading
        // one of the writer's grains from the file, as `testgrid status` would read a running run. (Writers of one
        // file in one process queue in the provider; writers in two processes meet in the killed-writer test.)
        async Task WriteAsync(Silo silo, string key)
        {
            for (var i = 0; i < Writes; i++) await silo.Grain(key).IncrementAsync(64 * 1024);
        }
        var writes = Enumerable.Range(0, 4).SelectMany(i => new[] { WriteAsync(writer, $"w-{i}"), WriteAsync(other, $"o-{i}") }).ToArray();
        var seen = new List<int>();
        while (!writes.All(w => w.IsCompleted))
        {
            var read = await other.Grain("w-0").ReloadAsync();
            if (read.Count > 0)
                Assert.That(read.Blob.AsSpan().SequenceEqual(StorageTestState.Pattern(read.Count, 64 * 1024)), "a read never sees half a write");
            seen.Add(read.Count);
        }
        await Task.WhenAll(writes);
        TestContext.Out.WriteLine($"{8 * Writes} writes of 64 KB from two silos and {seen.Count} reads in {clock.ElapsedMilliseconds} ms");

        Assert.That(seen, Is.Ordered, "the reader saw the writer's count only go up");
        Assert.That(seen.Count, Is.GreaterThan(1), "reads ran while the writes did");
        foreach (var key in new[] { "w-0", "w-3" })
            Assert.That((await writer.Grain(key).ReloadAsync()).Count, Is.EqualTo(Writes));
        foreach (var key in new[] { "o-0", "o-3" })
            Assert.That((await other.Grain(key).ReloadAsync()).Count, Is.EqualTo(Writes));
    }

    [Test]
    public async Task A_writer_process_killed_mid_write_loses_no_acknowledged_write_and_a_new_silo_continues()
    {
        const int BlobBytes = 256 * 1024;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Repo.Program("Tests/StorageProcess", "testgrid-storage-process.dll"), Database, ServiceId, "crash", BlobBytes.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(arg);

        await using var reader = await Silo.StartAsync(Database);
        using var writer = Process.Start(start)!;
        var errors = writer.StandardError.ReadToEndAsync();
        var acknowledged = 0;
        var reads = new List<int>();
        // This process writes a grain of its own meanwhile: two processes' writers meet on SQLite's lock.
        using var stopOwnWrites = new CancellationTokenSource();
        var ownWrites = Task.Run(async () =>
        {
            var count = 0;
            // Paced, as a second run would write: a writer that never lets go of the lock could starve the other
            // process past its busy timeout (SQLite's lock is not fair).
            while (!stopOwnWrites.IsCancellationRequested)
            {
                count = await reader.Grain("this-process").IncrementAsync(BlobBytes);
                await Task.Delay(10);
            }
            return count;
        });
        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            // This process reads the grain while the other writes it, until the writer has written 30 times.
            while (acknowledged < 30)
            {
                var line = await writer.StandardOutput.ReadLineAsync(limit.Token)
                    ?? throw new AssertionException($"the writer ended: {await errors}");
                if (line.StartsWith("written ", StringComparison.Ordinal)) acknowledged = int.Parse(line["written ".Length..], System.Globalization.CultureInfo.InvariantCulture);
                if (acknowledged > 0 && acknowledged % 5 == 0) reads.Add((await reader.Grain("crash").ReloadAsync()).Count);
            }
        }
        finally
        {
            await writer.KillHardAsync(); // SIGKILL: no shutdown, no flush, whatever write was in flight is cut off
            await stopOwnWrites.CancelAsync();
        }
        var own = await ownWrites;

        // Lines the writer printed before it died are acknowledged too.
        while (await writer.StandardOutput.ReadLineAsync() is { } rest)
            if (rest.StartsWith("written ", StringComparison.Ordinal)) acknowledged = int.Parse(rest["written ".Length..], System.Globalization.CultureInfo.InvariantCulture);

        var after = await reader.Grain("crash").ReloadAsync();
        TestContext.Out.WriteLine($"acknowledged {acknowledged}, read after the kill {after.Count}; read while writing: {string.Join(' ', reads)}; " +
            $"this process wrote its own grain {own} times meanwhile");
        Assert.That(reads, Is.Ordered);
        Assert.That(own, Is.GreaterThan(0));
        Assert.That((await reader.Grain("this-process").ReloadAsync()).Count, Is.EqualTo(own), "this process's writes went in alongside the other's");
        Assert.That(after.Count, Is.InRange(acknowledged, acknowledged + 1), "every acknowledged write is there (one more may have committed unacknowledged)");
        Assert.That(after.Blob.AsSpan().SequenceEqual(StorageTestState.Pattern(after.Count, BlobBytes)), "the last write is whole");
        Assert.That(await reader.Grain("crash").IncrementAsync(16), Is.EqualTo(after.Count + 1), "a new silo writes on from the file's ETag");
        Assert.That(await PragmaAsync(Database, "integrity_check"), Is.EqualTo("ok"));
    }

    [Test]
    public async Task A_silo_on_a_damaged_file_does_not_start_and_names_the_file()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Database)!);
        await File.WriteAllBytesAsync(Database, [.. Enumerable.Range(0, 8192).Select(i => (byte)(i * 7))]);
        var error = Assert.CatchAsync(async () =>
        {
            var silo = await Silo.StartAsync(Database);
            await silo.DisposeAsync();
        });
        Assert.That(Messages(error!), Does.Contain(Database).And.Contain("not a SQLite database"));
    }

    // ---- the provider on its own ----

    [Test]
    public async Task Writes_insert_without_an_ETag_update_only_with_the_stored_one_and_clears_never_reuse_a_version()
    {
        using var storage = Provider(Database);
        await GrainStorageContract.KeepsTheEtagRulesAsync(storage);
        var foreign = new GrainState<StorageTestState>(new StorageTestState()) { ETag = "W/\"0x8D\"" };
        Assert.That(Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("s", Id("etags"), foreign, CancellationToken.None))!.Message,
            Does.Contain("was not issued by this storage"));
    }

    [Test]
    public async Task Records_are_apart_by_state_name_grain_and_service()
    {
        using var one = Provider(Database, "service-1");
        using var two = Provider(Database, "service-2");
        await one.WriteStateAsync("s", Id("g"), new GrainState<StorageTestState>(new StorageTestState { Text = "1/s/g" }), CancellationToken.None);
        await one.WriteStateAsync("t", Id("g"), new GrainState<StorageTestState>(new StorageTestState { Text = "1/t/g" }), CancellationToken.None);
        await one.WriteStateAsync("s", Id("h"), new GrainState<StorageTestState>(new StorageTestState { Text = "1/s/h" }), CancellationToken.None);
        await two.WriteStateAsync("s", Id("g"), new GrainState<StorageTestState>(new StorageTestState { Text = "2/s/g" }), CancellationToken.None);

        async Task<string?> Read(SqliteGrainStorage storage, string name, string key)
        {
            var state = new GrainState<StorageTestState>(new StorageTestState());
            await storage.ReadStateAsync(name, Id(key), state, CancellationToken.None);
            return state.State!.Text;
        }
        Assert.That(new[] { await Read(one, "s", "g"), await Read(one, "t", "g"), await Read(one, "s", "h"), await Read(two, "s", "g"), await Read(two, "t", "g") },
            Is.EqualTo(new[] { "1/s/g", "1/t/g", "1/s/h", "2/s/g", null }));
    }

    [Test]
    public async Task A_state_that_cannot_be_decoded_gives_an_error_naming_the_file_and_the_grain()
    {
        using (var storage = Provider(Database))
            await storage.WriteStateAsync("s", Id("garbled"), new GrainState<StorageTestState>(new StorageTestState { Text = "fine" }), CancellationToken.None);
        await using (var connection = new SqliteConnection($"Data Source={Database}"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE grain_state SET payload = x'00ff00ff13' WHERE grain_id LIKE '%garbled'";
            Assert.That(await command.ExecuteNonQueryAsync(), Is.EqualTo(1));
        }

        using var reader = Provider(Database);
        var error = Assert.ThrowsAsync<SqliteGrainStorageException>(() =>
            reader.ReadStateAsync("s", Id("garbled"), new GrainState<StorageTestState>(new StorageTestState()), CancellationToken.None));
        Assert.That(error!.Message, Does.Contain(Database).And.Contain("storagetest/garbled").And.Contain(nameof(StorageTestState)));
        Assert.That(error.Path, Is.EqualTo(Database));
    }

    [Test]
    public async Task A_file_that_is_not_a_database_or_has_a_newer_schema_is_refused_with_its_name()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Database)!);
        await File.WriteAllTextAsync(Database, "this is a text file, not a database; it is long enough to hold a header. ".PadRight(4096, '.'));
        using (var storage = Provider(Database))
        {
            var error = Assert.ThrowsAsync<SqliteGrainStorageException>(() =>
                storage.ReadStateAsync("s", Id("x"), new GrainState<StorageTestState>(new StorageTestState()), CancellationToken.None));
            Assert.That(error!.Message, Does.Contain(Database).And.Contain("not a SQLite database"));
        }

        var newer = Path.Combine(_folder, "newer.db");
        await using (var connection = new SqliteConnection($"Data Source={newer}"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = $"PRAGMA user_version = {SqliteGrainStorage.SchemaVersion + 1};";
            await command.ExecuteNonQueryAsync();
        }
        using (var storage = Provider(newer))
        {
            var error = Assert.ThrowsAsync<SqliteGrainStorageException>(() => storage.InitializeAsync(CancellationToken.None));
            Assert.That(error!.Message, Does.Contain(newer).And.Contain($"schema version {SqliteGrainStorage.SchemaVersion + 1}"));
        }
    }

    [Test]
    public void A_cancelled_operation_does_not_touch_the_file()
    {
        using var storage = Provider(Database);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.CatchAsync<OperationCanceledException>(() =>
            storage.WriteStateAsync("s", Id("x"), new GrainState<StorageTestState>(new StorageTestState()), cancelled.Token));
        Assert.That(File.Exists(Database), Is.False);
    }

    // ---- helpers ----

    private static GrainId Id(string key) => GrainId.Create("storagetest", key);

    /// <summary>The provider outside a silo, with the serializer and activators a silo would give it.</summary>
    private static SqliteGrainStorage Provider(string path, string serviceId = ServiceId)
    {
        var services = new ServiceCollection().AddSerializer().AddTestGridSerialization().BuildServiceProvider();
        return new SqliteGrainStorage("test", path, serviceId, new OrleansGrainStorageSerializer(services.GetRequiredService<Serializer>()),
            services.GetRequiredService<IActivatorProvider>(), NullLogger<SqliteGrainStorage>.Instance);
    }

    private static void AssertSameAttempts(ImmutableArray<AttemptResult> actual, ImmutableArray<AttemptResult> expected)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length));
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.That((actual[i].Number, actual[i].AttemptId, actual[i].Machine, actual[i].StartedAt, actual[i].EndedAt, actual[i].CellState),
                Is.EqualTo((expected[i].Number, expected[i].AttemptId, expected[i].Machine, expected[i].StartedAt, expected[i].EndedAt, expected[i].CellState)));
            Assert.That(actual[i].Metrics, Is.EquivalentTo(expected[i].Metrics));
            var (test, want) = (actual[i].Tests.Single(), expected[i].Tests.Single());
            Assert.That((test.Id, test.Outcome, test.Blocking, test.Duration, test.Output), Is.EqualTo((want.Id, want.Outcome, want.Blocking, want.Duration, want.Output)));
            Assert.That(test.Metrics, Is.EquivalentTo(want.Metrics));
        }
    }

    private static async Task<string?> PragmaAsync(string path, string pragma)
    {
        await using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA {pragma};";
        return (string?)await command.ExecuteScalarAsync();
    }

    private static long WalLength(string path) => File.Exists(path + "-wal") ? new FileInfo(path + "-wal").Length : 0;

    private static string Messages(Exception error)
    {
        var all = new List<string>();
        for (var e = error; e is not null; e = e.InnerException) all.Add(e.Message);
        if (error is AggregateException aggregate) all.AddRange(aggregate.InnerExceptions.Select(Messages));
        return string.Join(" | ", all);
    }

    /// <summary>A real silo (its own cluster on free 127.0.0.1 ports) with SQLite grain storage on the given file.</summary>
    private sealed class Silo : IAsyncDisposable
    {
        private readonly IHost _host;

        private Silo(IHost host) => _host = host;

        public static async Task<Silo> StartAsync(string path)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Logging.ClearProviders();
            builder.UseOrleans(silo => silo
                .UseLocalhostClustering(LocalPorts.Free(), LocalPorts.Free(), serviceId: ServiceId, clusterId: $"storage-{Guid.NewGuid():N}")
                .AddSqliteGrainStorage(StorageTestGrain.StorageName, path));
            builder.Services.AddTestGridSerialization();
            var host = builder.Build();
            try
            {
                await host.StartAsync();
            }
            catch
            {
                host.Dispose();
                throw;
            }
            return new Silo(host);
        }

        public IStorageTestGrain Grain(string key) => _host.Services.GetRequiredService<IGrainFactory>().GetGrain<IStorageTestGrain>(key);

        public async ValueTask DisposeAsync()
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _host.StopAsync(limit.Token);
            _host.Dispose();
        }
    }
}
