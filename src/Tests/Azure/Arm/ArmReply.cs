using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace TestGrid.Tests.Azure.Arm;

/// <summary>An answer of the fake ARM server: status, headers, and a JSON or text body.</summary>
internal sealed class ArmReply
{
    private ArmReply(int status) => Status = status;

    public int Status { get; }
    public JsonNode? Json { get; private init; }
    public string? Text { get; private init; }
    public string ContentType { get; private init; } = "application/json; charset=utf-8";
    public string? ErrorCode { get; private init; }
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    public static ArmReply Of(int status, JsonNode? body = null) => new(status) { Json = body };

    public static ArmReply Empty(int status) => new(status);

    public static ArmReply OfText(int status, string text, string contentType) => new(status) { Text = text, ContentType = contentType };

    /// <summary>ARM's error shape: <c>{"error":{"code":…,"message":…}}</c>.</summary>
    public static ArmReply Error(int status, string code, string message, string? target = null)
    {
        var error = new JsonObject { ["code"] = code, ["message"] = message };
        if (target is not null) error["target"] = target;
        return new(status) { Json = new JsonObject { ["error"] = error }, ErrorCode = code };
    }

    /// <summary>Azure Storage's error shape (the boot diagnostics blobs).</summary>
    public static ArmReply BlobError(int status, string code, string message) => new(status)
    {
        Text = $"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>",
        ContentType = "application/xml",
        ErrorCode = code,
    };

    public ArmReply With(string header, string value)
    {
        Headers[header] = value;
        return this;
    }

    public async Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = Status;
        foreach (var (name, value) in Headers) response.Headers[name] = value;
        response.Headers["x-ms-request-id"] = Guid.NewGuid().ToString();
        response.Headers["x-ms-correlation-request-id"] = context.Request.Headers["x-ms-client-request-id"].FirstOrDefault() ?? Guid.NewGuid().ToString();
        var body = Json is not null ? Json.ToJsonString(JsonOptions) : Text;
        if (body is null) return;
        var bytes = Encoding.UTF8.GetBytes(body);
        response.ContentType = ContentType;
        response.ContentLength = bytes.Length;
        if (HttpMethods.IsHead(context.Request.Method)) return;
        await response.Body.WriteAsync(bytes);
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false };
}

/// <summary>Thrown inside request handling to answer with an ARM error.</summary>
internal sealed class ArmErrorException : Exception
{
    public ArmErrorException()
    {
        Code = "InternalServerError";
    }

    public ArmErrorException(string message) : base(message)
    {
        Code = "InternalServerError";
    }

    public ArmErrorException(string message, Exception innerException) : base(message, innerException)
    {
        Code = "InternalServerError";
    }

    public ArmErrorException(int status, string code, string message, string? target = null) : base(message)
    {
        Status = status;
        Code = code;
        Target = target;
    }

    public int Status { get; } = 500;
    public string Code { get; }
    public string? Target { get; }

    public ArmReply ToReply() => ArmReply.Error(Status, Code, Message, Target);
}

/// <summary>Small helpers over System.Text.Json nodes.</summary>
internal static class Json
{
    public static JsonObject? Obj(JsonNode? node, params string[] path)
    {
        foreach (var name in path) node = (node as JsonObject)?[name];
        return node as JsonObject;
    }

    public static JsonArray? Arr(JsonNode? node, params string[] path)
    {
        foreach (var name in path) node = (node as JsonObject)?[name];
        return node as JsonArray;
    }

    public static string? Str(JsonNode? node, params string[] path)
    {
        foreach (var name in path) node = (node as JsonObject)?[name];
        return node is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;
    }

    public static bool? Bool(JsonNode? node, params string[] path)
    {
        foreach (var name in path) node = (node as JsonObject)?[name];
        if (node is not JsonValue value) return null;
        if (value.TryGetValue<bool>(out var b)) return b;
        return value.TryGetValue<string>(out var s) && bool.TryParse(s, out b) ? b : null;
    }

    /// <summary>The child object named <paramref name="name"/>, made if missing.</summary>
    public static JsonObject Ensure(JsonObject parent, string name)
    {
        if (parent[name] is JsonObject existing) return existing;
        var made = new JsonObject();
        parent[name] = made;
        return made;
    }

    public static Dictionary<string, string> Tags(JsonNode? body)
    {
        var tags = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (Obj(body, "tags") is { } obj)
        {
            foreach (var (key, value) in obj)
                tags[key] = value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value?.ToJsonString() ?? "";
        }
        return tags;
    }

    public static JsonObject TagsNode(IEnumerable<KeyValuePair<string, string>> tags)
    {
        var obj = new JsonObject();
        foreach (var (key, value) in tags) obj[key] = value;
        return obj;
    }

    public static JsonArray Array(IEnumerable<JsonNode?> items)
    {
        var array = new JsonArray();
        foreach (var item in items) array.Add(item);
        return array;
    }

    public static JsonArray Strings(IEnumerable<string> items) => Array(items.Select(i => (JsonNode?)JsonValue.Create(i)));
}
