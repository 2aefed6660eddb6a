using System.Collections.Immutable;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
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
/// The silo-memory grain storage (the embedded engine's capacity state, a standalone silo without Azure Storage): in a
/// real silo a state outlives its activation; on its own, ETags are checked as a durable storage checks them, and the
/// stored state is a copy that neither the writer's later changes nor a reader's changes reach.
/// </summary>
[TestFixture]
public sealed class SiloMemoryGrainStorageTests
{
    [Test]
    public async Task State_written_in_a_silo_is_read_back_by_the_next_activation()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.UseOrleans(silo => silo
            .UseLocalhostClustering(LocalPorts.Free(), LocalPorts.Free(), serviceId: "memory-storage-tests", clusterId: $"memory-{Guid.NewGuid():N}")
            .AddTestGridMemoryStorage(StorageTestGrain.StorageName));
        builder.Services.AddTestGridSerialization();
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var grain = host.Services.GetRequiredService<IGrainFactory>().GetGrain<IStorageTestGrain>("run-1");
            var written = await grain.SetAsync("checkpoint", [1, 2, 3], [Sample.StoredAttempt(1), Sample.StoredAttempt(2)]);
            Assert.That((written.RecordExists, written.ETag), Is.EqualTo((true, "1")));

            await grain.DeactivateAsync();
            var reactivated = await grain.GetAsync();
            Assert.That((reactivated.Text, reactivated.Blob, reactivated.RecordExists, reactivated.ETag), Is.EqualTo(("checkpoint", new byte[] { 1, 2, 3 }, true, "1")),
                "a new activation read the state the last one wrote");
            Assert.That(reactivated.Attempts.Select(a => (a.AttemptId, a.Tests.Single().Metrics["boot.ssh_login"])), Is.EqualTo(new[] { ("attempt-1", 18.4), ("attempt-2", 18.4) }));
            Assert.That(await grain.IncrementAsync(16), Is.EqualTo(1));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Test]
    public async Task Writes_insert_without_an_ETag_update_only_with_the_stored_one_and_clears_never_reuse_a_version()
    {
        var storage = Provider();
        await GrainStorageContract.KeepsTheEtagRulesAsync(storage);
        var other = new GrainState<StorageTestState>(new StorageTestState());
        await storage.ReadStateAsync("t", Id("etags"), other);
        Assert.That(other.RecordExists, Is.False, "records are apart by state name");
    }

    [Test]
    public async Task The_stored_state_is_a_copy_neither_the_writer_nor_a_reader_changes_afterwards()
    {
        var storage = Provider();
        var grain = Id("copies");
        var attempts = ImmutableArray.Create(Sample.StoredAttempt(1));
        var written = new GrainState<StorageTestState>(new StorageTestState { Text = "written", Count = 1, Blob = [1, 2], Attempts = attempts });
        await storage.WriteStateAsync("s", grain, written);
        written.State!.Text = "changed after the write";
        written.State.Blob[0] = 99;

        var first = new GrainState<StorageTestState>(new StorageTestState());
        await storage.ReadStateAsync("s", grain, first);
        Assert.That((first.State!.Text, first.State.Blob), Is.EqualTo(("written", new byte[] { 1, 2 })));
        first.State.Count = 42;
        first.State.Blob[1] = 77;

        var second = new GrainState<StorageTestState>(new StorageTestState());
        await storage.ReadStateAsync("s", grain, second);
        Assert.That((second.State!.Text, second.State.Count, second.State.Blob), Is.EqualTo(("written", 1, new byte[] { 1, 2 })), "a reader's changes stay its own");
        Assert.That(second.State, Is.Not.SameAs(first.State));
        Assert.That(second.State.Attempts.Single().AttemptId, Is.EqualTo("attempt-1"));
    }

    private static GrainId Id(string key) => GrainId.Create("storagetest", key);

    /// <summary>The provider outside a silo, with the copiers and activators a silo would give it.</summary>
    private static SiloMemoryGrainStorage Provider()
    {
        var services = new ServiceCollection().AddSerializer().AddTestGridSerialization().BuildServiceProvider();
        return new SiloMemoryGrainStorage("test", services.GetRequiredService<DeepCopier>(), services.GetRequiredService<IActivatorProvider>());
    }
}
