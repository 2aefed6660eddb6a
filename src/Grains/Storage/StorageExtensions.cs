using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace TestGrid.Engine.Storage;

public static class StorageExtensions
{
    /// <summary>
    /// Registers <see cref="SqliteGrainStorage"/> under <paramref name="name"/> on <paramref name="path"/>, the way
    /// Orleans registers its own named providers (a keyed <see cref="IGrainStorage"/>, the default one when the name is
    /// Orleans' default, and a silo lifecycle participant that opens the file at start).
    /// </summary>
    /// <remarks>
    /// States are serialized with Orleans' own serializer (<see cref="OrleansGrainStorageSerializer"/> over the silo's
    /// <see cref="Serializer"/>): the codecs grain calls already use, [GenerateSerializer] types and the JSON codec for
    /// domain values included. The silo's unkeyed default <see cref="IGrainStorageSerializer"/> in Orleans 10 is
    /// Newtonsoft.Json with type names, which cannot read back TestGrid's states (it records compiler-generated
    /// collection types it cannot resolve). An <see cref="IGrainStorageSerializer"/> registered keyed by
    /// <paramref name="name"/> replaces it for this provider.
    /// </remarks>
    public static ISiloBuilder AddSqliteGrainStorage(this ISiloBuilder silo, string name, string path)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var file = Path.GetFullPath(path);
        silo.Services.AddGrainStorage(name, (services, key) => new SqliteGrainStorage(
            key,
            file,
            services.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
            services.GetKeyedService<IGrainStorageSerializer>(key) ?? new OrleansGrainStorageSerializer(services.GetRequiredService<Serializer>()),
            services.GetRequiredService<IActivatorProvider>(),
            services.GetRequiredService<ILogger<SqliteGrainStorage>>()));
        return silo;
    }
}
