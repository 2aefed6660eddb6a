using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace TestGrid.Engine;

public static class SerializationExtensions
{
    /// <summary>
    /// Domain values (matrix, plan, suites, results, verdict) travel between grains in their one JSON contract,
    /// <see cref="TestGridJsonContext"/>; grain messages themselves are [GenerateSerializer] records. Silos and clients both call this.
    /// </summary>
    public static IServiceCollection AddTestGridSerialization(this IServiceCollection services) =>
        services.AddSerializer(serializer => serializer.AddJsonSerializer(
            isSupported: type => type.Assembly == typeof(TestGridJsonContext).Assembly,
            jsonSerializerOptions: TestGridJson.Options));
}
