using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using TestGrid.Ledger;

namespace TestGrid.Engine.Storage;

/// <summary>
/// Orleans grain storage in one SQLite file, so that an embedded engine's grain state outlives its process: after a
/// <c>kill -9</c> of the CLI, a new process on the same file reads every state that was acknowledged as written.
/// </summary>
/// <remarks>
/// <para>One table, <c>grain_state</c>, keyed by (service id, state name, grain id), holds each state's serialized bytes,
/// its version and when it was written. The ETag is the version as a decimal string: a write with no ETag inserts (and
/// conflicts if the record exists), a write with an ETag updates only the row with that version and increments it, so
/// a second activation or process holding an older ETag gets an <see cref="InconsistentStateException"/> naming both
/// ETags. Clear keeps the row with no payload and a new version (as Orleans' ADO.NET provider does), so versions never
/// restart and an ETag from before the clear can never match again; a cleared record reads as no record.</para>
/// <para>The file is in WAL mode (readers, such as a <c>status</c> command in another process, never wait for a writer)
/// with <c>synchronous = NORMAL</c>: a write that returned survives its process being killed (the state an embedded run
/// resumes from); a power loss may undo the last writes, after which cells run their lost attempts again. FULL (an
/// fsync per write) made every cell's state changes wait on the disk one at a time: a 10,000-cell run's cells could
/// not start faster than the disk syncs. Every write is one statement, committed with the
/// other writes queued to the file in this process at the time (<see cref="SqliteGroupCommit"/>: a 10,000-cell run's
/// cells each committing alone spent much of their CPU on commits); writers in other processes wait on SQLite's busy
/// timeout (<see cref="BusyTimeout"/>) instead of failing. Every statement runs with the operation's cancellation token.
/// Failures other than ETag conflicts are <see cref="SqliteGrainStorageException"/>s that name the file.</para>
/// </remarks>
public sealed partial class SqliteGrainStorage : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    /// <summary>The schema this code writes (SQLite's <c>user_version</c>); a file with a newer one is refused.</summary>
    public const int SchemaVersion = 1;

    /// <summary>How long a statement waits for another connection's write lock before failing.</summary>
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(30);

    private readonly string _serviceId;
    private readonly IGrainStorageSerializer _serializer;
    private readonly IActivatorProvider _activators;
    private readonly ILogger _logger;
    private readonly string _connectionString;
    private readonly SemaphoreSlim _init = new(1, 1);
    private readonly SqliteGroupCommit _writes;
    private volatile bool _ready;

    /// <param name="name">The provider's name (what <c>[PersistentState(..., name)]</c> says).</param>
    /// <param name="path">The database file; it and its folder are created when missing.</param>
    /// <param name="serviceId">The Orleans service id: part of every key, so two services can share one file.</param>
    /// <param name="serializer">Turns states into bytes and back.</param>
    /// <param name="activators">Makes the default state of a grain that has none stored.</param>
    public SqliteGrainStorage(string name, string path, string serviceId, IGrainStorageSerializer serializer,
        IActivatorProvider activators, ILogger<SqliteGrainStorage> logger)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentException.ThrowIfNullOrEmpty(serviceId);
        ArgumentNullException.ThrowIfNull(serializer);
        ArgumentNullException.ThrowIfNull(activators);
        ArgumentNullException.ThrowIfNull(logger);
        Name = name;
        Path = System.IO.Path.GetFullPath(path);
        _serviceId = serviceId;
        _serializer = serializer;
        _activators = activators;
        _logger = logger;
        _writes = Commits.GetOrAdd(Path, _ => new SqliteGroupCommit(OpenAsync));
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = (int)BusyTimeout.TotalSeconds,
        }.ToString();
    }

    /// <summary>
    /// SQLite lets one connection write at a time, and Microsoft.Data.Sqlite's async calls block their thread while
    /// they wait for the lock. Writes to one file from this process are therefore group commits, with one writer per
    /// file; only that writer waits for writers in other processes, on SQLite's busy timeout.
    /// </summary>
    private static readonly ConcurrentDictionary<string, SqliteGroupCommit> Commits = new(StringComparer.Ordinal);

    public string Name { get; }

    /// <summary>The database file (a full path).</summary>
    public string Path { get; }

    /// <summary>
    /// Creates the folder, the file and the schema when missing, switches the file to WAL, and checks that the file
    /// is a grain storage database this code can read. Runs at silo start (so a damaged file stops the silo with its
    /// name) and, when the provider is used without a silo, before the first operation.
    /// </summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (_ready) return;
        await _init.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_ready) return;
            try
            {
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SqliteGrainStorageException(Path, $"grain storage '{Name}' cannot create the folder of {Path}: {e.Message}", e);
            }

            try
            {
                await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
                // Persistent in the file: every later connection, in any process, uses the write-ahead log. The switch
                // needs the file to itself; another process opening a new file at the same moment can delay it briefly.
                object? mode = null;
                for (var tries = 0; tries < 50 && !string.Equals(mode as string, "wal", StringComparison.OrdinalIgnoreCase); tries++)
                {
                    if (tries > 0) await Task.Delay(100, cancellationToken).ConfigureAwait(false);
                    mode = await ScalarAsync(connection, "PRAGMA journal_mode = WAL;", cancellationToken).ConfigureAwait(false);
                }
                if (!string.Equals(mode as string, "wal", StringComparison.OrdinalIgnoreCase))
                    throw new SqliteGrainStorageException(Path, $"grain storage '{Name}': {Path} could not be switched to WAL mode (it stays '{mode}')");

                await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                var version = Convert.ToInt64(await ScalarAsync(connection, "PRAGMA user_version;", cancellationToken, transaction).ConfigureAwait(false),
                    CultureInfo.InvariantCulture);
                if (version > SchemaVersion)
                    throw new SqliteGrainStorageException(Path,
                        $"grain storage '{Name}': {Path} has schema version {version}, newer than this TestGrid's {SchemaVersion}; use the TestGrid that wrote it");
                await ExecuteAsync(connection, """
                    CREATE TABLE IF NOT EXISTS grain_state (
                        service_id TEXT NOT NULL,
                        state_name TEXT NOT NULL,
                        grain_id   TEXT NOT NULL,
                        version    INTEGER NOT NULL,
                        payload    BLOB,
                        updated_at TEXT NOT NULL,
                        PRIMARY KEY (service_id, state_name, grain_id)
                    );
                    """, cancellationToken, transaction).ConfigureAwait(false);
                if (version < SchemaVersion)
                    await ExecuteAsync(connection, $"PRAGMA user_version = {SchemaVersion};", cancellationToken, transaction).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (SqliteException e)
            {
                throw new SqliteGrainStorageException(Path, $"grain storage '{Name}' cannot use {Path}: {Describe(e)}", e);
            }

            _ready = true;
            LogOpened(Name, Path);
        }
        finally
        {
            _init.Release();
        }
    }

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <summary>
    /// No record: the state's default, <c>RecordExists</c> false, ETag null. A cleared record: the default,
    /// <c>RecordExists</c> false, and the record's version as ETag (the next write must carry it).
    /// </summary>
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        var key = Key(stateName, grainId);
        long? version = null;
        byte[]? payload = null;
        await RunAsync("read", key, async connection =>
        {
            await using var command = Command(connection, null, "SELECT version, payload FROM grain_state WHERE service_id = $service AND state_name = $state AND grain_id = $grain;", key);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                version = reader.GetInt64(0);
                payload = reader.IsDBNull(1) ? null : reader.GetFieldValue<byte[]>(1);
            }
        }, cancellationToken).ConfigureAwait(false);

        if (payload is null)
        {
            grainState.State = Default<T>();
            grainState.RecordExists = false;
        }
        else
        {
            grainState.State = Deserialize<T>(payload, key) ?? Default<T>();
            grainState.RecordExists = true;
        }
        grainState.ETag = version is { } v ? ETag(v) : null;
    }

    /// <summary>Inserts (no ETag) or replaces the record whose version is the ETag; the new version becomes the ETag.</summary>
    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        var key = Key(stateName, grainId);
        var expected = ParseETag(grainState.ETag, "write", key);
        var payload = Serialize(grainState.State, key);
        var next = (expected ?? 0) + 1;
        await WriteAsync("write", key, grainState.ETag, async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction, expected is null
                ? """
                  INSERT INTO grain_state (service_id, state_name, grain_id, version, payload, updated_at)
                  VALUES ($service, $state, $grain, $next, $payload, $now)
                  ON CONFLICT (service_id, state_name, grain_id) DO NOTHING;
                  """
                : """
                  UPDATE grain_state SET version = $next, payload = $payload, updated_at = $now
                  WHERE service_id = $service AND state_name = $state AND grain_id = $grain AND version = $expected;
                  """, key);
            command.Parameters.AddWithValue("$next", next);
            command.Parameters.Add("$payload", SqliteType.Blob).Value = payload;
            command.Parameters.AddWithValue("$now", Now());
            if (expected is { } e) command.Parameters.AddWithValue("$expected", e);
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        grainState.ETag = ETag(next);
        grainState.RecordExists = true;
    }

    /// <summary>
    /// Marks the record whose version is the ETag cleared (no payload, a new version that becomes the ETag); the state
    /// becomes its default and <c>RecordExists</c> false. Clearing what was never written (no ETag, no record) succeeds.
    /// </summary>
    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        var key = Key(stateName, grainId);
        var expected = ParseETag(grainState.ETag, "clear", key);
        if (expected is null)
        {
            // Nothing this activation knows of to clear; a record someone else wrote is a conflict, not ours to drop.
            long? stored = null;
            await RunAsync("clear", key, async connection => stored = await StoredVersionAsync(connection, null, key, cancellationToken).ConfigureAwait(false),
                cancellationToken).ConfigureAwait(false);
            if (stored is not null) throw Conflict("clear", key, ETag(stored.Value), grainState.ETag);
        }
        else
        {
            await WriteAsync("clear", key, grainState.ETag, async (connection, transaction) =>
            {
                await using var command = Command(connection, transaction, """
                    UPDATE grain_state SET version = $next, payload = NULL, updated_at = $now
                    WHERE service_id = $service AND state_name = $state AND grain_id = $grain AND version = $expected;
                    """, key);
                command.Parameters.AddWithValue("$next", expected.Value + 1);
                command.Parameters.AddWithValue("$now", Now());
                command.Parameters.AddWithValue("$expected", expected.Value);
                return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            grainState.ETag = ETag(expected.Value + 1);
        }

        grainState.State = Default<T>();
        grainState.RecordExists = false;
    }

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe($"{nameof(SqliteGrainStorage)}-{Name}", ServiceLifecycleStage.ApplicationServices,
            InitializeAsync, _ =>
            {
                ReleaseConnections();
                return Task.CompletedTask;
            });
    }

    /// <summary>Closes this file's idle pooled connections (they would otherwise hold it open until the process ends).</summary>
    public void Dispose()
    {
        ReleaseConnections();
        _init.Dispose();
    }

    private void ReleaseConnections()
    {
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }

    private readonly record struct StateKey(string State, string Grain, string Service);

    private StateKey Key(string stateName, GrainId grainId)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateName);
        if (grainId.IsDefault) throw new ArgumentException("a grain id is required", nameof(grainId));
        return new StateKey(stateName, grainId.ToString(), _serviceId);
    }

    private async Task RunAsync(string operation, StateKey key, Func<SqliteConnection, Task> work, CancellationToken cancellationToken)
    {
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
            await work(connection).ConfigureAwait(false);
        }
        catch (SqliteException e)
        {
            throw Failed(operation, key, e);
        }
    }

    /// <summary>
    /// A statement that changes the record, in the file's next group commit: it changed no row when the file holds
    /// another version than <paramref name="held"/> (or none), a conflict naming both.
    /// </summary>
    private async Task WriteAsync(string operation, StateKey key, string? held, Func<SqliteConnection, SqliteTransaction, Task<int>> statement,
        CancellationToken cancellationToken)
    {
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _writes.WriteAsync(async (connection, transaction) =>
            {
                if (await statement(connection, transaction).ConfigureAwait(false) == 0)
                {
                    var stored = await StoredVersionAsync(connection, transaction, key, cancellationToken).ConfigureAwait(false);
                    throw Conflict(operation, key, stored is { } s ? ETag(s) : null, held);
                }
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException e)
        {
            throw Failed(operation, key, e);
        }
    }

    private SqliteGrainStorageException Failed(string operation, StateKey key, SqliteException e) =>
        new(Path, $"grain storage '{Name}' could not {operation} state '{key.State}' of {key.Grain} in {Path}: {Describe(e)}", e);

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            // NORMAL in WAL mode: durable against a process crash; the disk is synced at WAL checkpoints (see the class remarks).
            await ExecuteAsync(connection, $"PRAGMA busy_timeout = {(int)BusyTimeout.TotalMilliseconds}; PRAGMA synchronous = NORMAL;", cancellationToken)
                .ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, StateKey key)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.Parameters.AddWithValue("$service", key.Service);
        command.Parameters.AddWithValue("$state", key.State);
        command.Parameters.AddWithValue("$grain", key.Grain);
        return command;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<long?> StoredVersionAsync(SqliteConnection connection, SqliteTransaction? transaction, StateKey key, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "SELECT version FROM grain_state WHERE service_id = $service AND state_name = $state AND grain_id = $grain;", key);
        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is null or DBNull ? null : Convert.ToInt64(value, CultureInfo.InvariantCulture);
    }

    private InconsistentStateException Conflict(string operation, StateKey key, string? stored, string? held)
    {
        LogConflict(Name, operation, key.State, key.Grain, held ?? "none", stored ?? "none", Path);
        return new InconsistentStateException(
            $"ETag conflict: grain storage '{Name}' could not {operation} state '{key.State}' of {key.Grain} in {Path}: " +
            $"the activation holds ETag {held ?? "none"} but the file holds {(stored is null ? "no record" : $"ETag {stored}")}; " +
            "another activation or process changed it since this one read it",
            stored, held);
    }

    private long? ParseETag(string? etag, string operation, StateKey key)
    {
        if (etag is null) return null;
        return long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out var version) && version > 0
            ? version
            : throw new InconsistentStateException(
                $"grain storage '{Name}' could not {operation} state '{key.State}' of {key.Grain} in {Path}: ETag '{etag}' was not issued by this storage (its ETags are versions 1, 2, ...)",
                null, etag);
    }

    private byte[] Serialize<T>(T state, StateKey key)
    {
        try
        {
            return _serializer.Serialize(state).ToArray();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new SqliteGrainStorageException(Path,
                $"grain storage '{Name}' could not serialize state '{key.State}' of {key.Grain} ({typeof(T).FullName}) for {Path}: {e.Message}", e);
        }
    }

    private T? Deserialize<T>(byte[] payload, StateKey key)
    {
        try
        {
            return _serializer.Deserialize<T>(new BinaryData(payload));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new SqliteGrainStorageException(Path,
                $"grain storage '{Name}' could not read state '{key.State}' of {key.Grain} in {Path} as {typeof(T).FullName} " +
                $"({payload.Length} bytes; damaged, or written by an incompatible version): {e.Message}", e);
        }
    }

    private T Default<T>() => _activators.GetActivator<T>().Create();

    private static string ETag(long version) => version.ToString(CultureInfo.InvariantCulture);

    private static string Now() => DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);

    private static string Describe(SqliteException e) => e.SqliteErrorCode switch
    {
        26 => $"it is not a SQLite database, or it is damaged ({e.Message}); restore it from a copy or move it aside to start with empty state",
        11 => $"the database is damaged ({e.Message}); restore it from a copy or move it aside to start with empty state",
        14 => $"the file cannot be opened ({e.Message}); check that the path is a file and its folder is writable",
        5 or 6 => $"it stayed locked by another connection for longer than {BusyTimeout.TotalSeconds:0} s ({e.Message})",
        _ => e.Message,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "grain storage {Name}: {Path} (SQLite, WAL)")]
    private partial void LogOpened(string name, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "grain storage {Name}: {Operation} of state {State} of {Grain} conflicts: held ETag {Held}, stored {Stored} ({Path})")]
    private partial void LogConflict(string name, string operation, string state, string grain, string held, string stored, string path);
}

/// <summary>Grain storage's file could not be used: its message names the file and what was being done.</summary>
[GenerateSerializer, Alias("testgrid.sqlite-grain-storage-exception")]
public sealed class SqliteGrainStorageException : OrleansException
{
    public SqliteGrainStorageException() { }

    public SqliteGrainStorageException(string message) : base(message) { }

    public SqliteGrainStorageException(string message, Exception innerException) : base(message, innerException) { }

    public SqliteGrainStorageException(string path, string message) : base(message)
    {
        Path = path;
    }

    public SqliteGrainStorageException(string path, string message, Exception innerException) : base(message, innerException)
    {
        Path = path;
    }

    /// <summary>The database file.</summary>
    [Id(0)] public string? Path { get; private set; }
}
