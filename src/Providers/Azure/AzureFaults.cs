using System.Globalization;
using Azure;

namespace TestGrid.Azure;

/// <summary>What a failed Resource Manager call means for the attempt.</summary>
public enum AzureFaultClass
{
    /// <summary>429: retry after the time the service asks for.</summary>
    Throttled,

    /// <summary>5xx, 408: retry with backoff.</summary>
    Transient,

    /// <summary>The subscription's vCPU quota for the region or family is used up.</summary>
    Quota,

    /// <summary>A stockout: no capacity for the size in that zone or region now; another zone may have it.</summary>
    Allocation,

    /// <summary>The size is not offered (or restricted) in the region or zone.</summary>
    SkuNotAvailable,

    /// <summary>The image reference does not resolve.</summary>
    Image,

    /// <summary>401/403: the credential is not accepted or not allowed.</summary>
    Auth,

    /// <summary>404 on a delete or read: already gone.</summary>
    NotFound,

    /// <summary>Anything else: not retried.</summary>
    Other,
}

/// <summary>Classifies Resource Manager errors by status and error code, as Azure documents them.</summary>
public static class AzureFaults
{
    private static readonly HashSet<string> AllocationCodes = new(StringComparer.OrdinalIgnoreCase)
    {
        "AllocationFailed", "ZonalAllocationFailed", "OverconstrainedAllocationRequest", "OverconstrainedZonalAllocationRequest",
        "AllocationFailedVMSizeNotAvailableInZone", "SkuNotAvailableInZone",
    };

    private static readonly HashSet<string> ImageCodes = new(StringComparer.OrdinalIgnoreCase)
    {
        "ImageNotFound", "PlatformImageNotFound", "GalleryImageNotFound", "GalleryImageVersionNotFound", "InvalidGalleryImageReference",
        "CommunityGalleryImageNotFound", "MarketplacePurchaseEligibilityFailed", "VMMarketplaceInvalidInput",
    };

    public static AzureFaultClass Classify(RequestFailedException e) => e.Status switch
    {
        429 => AzureFaultClass.Throttled,
        401 or 403 => AzureFaultClass.Auth,
        _ when e.ErrorCode is { } code && AllocationCodes.Contains(code) => AzureFaultClass.Allocation,
        _ when e.ErrorCode is "QuotaExceeded" || (e.ErrorCode is "OperationNotAllowed" && e.Message.Contains("quota", StringComparison.OrdinalIgnoreCase)) => AzureFaultClass.Quota,
        _ when e.ErrorCode is "SkuNotAvailable" => AzureFaultClass.SkuNotAvailable,
        _ when e.ErrorCode is { } code && ImageCodes.Contains(code) => AzureFaultClass.Image,
        404 => AzureFaultClass.NotFound,
        408 or >= 500 => AzureFaultClass.Transient,
        // A long-running operation that failed carries status 200 and the operation's error code.
        _ when e.ErrorCode is "InternalExecutionError" or "InternalOperationError" or "RetryableError" => AzureFaultClass.Transient,
        _ => AzureFaultClass.Other,
    };

    public static bool IsRetryable(RequestFailedException e) => Classify(e) is AzureFaultClass.Throttled or AzureFaultClass.Transient;

    /// <summary>The attempt's error kind for a fault (reports group by it; permanent kinds are not retried).</summary>
    public static string Kind(AzureFaultClass fault) => fault switch
    {
        AzureFaultClass.Quota => "quota",
        AzureFaultClass.Allocation => "allocation",
        AzureFaultClass.SkuNotAvailable => "sku-not-available",
        AzureFaultClass.Image => "image",
        AzureFaultClass.Auth => "auth",
        AzureFaultClass.Throttled => "throttled",
        _ => "azure",
    };

    /// <summary>The delay a 429 or 503 asks for (<c>Retry-After</c>, in seconds or as a date), if any.</summary>
    public static TimeSpan? RetryAfter(RequestFailedException e)
    {
        if (e.GetRawResponse() is not { } response || !response.Headers.TryGetValue("Retry-After", out var value)) return null;
        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds)) return TimeSpan.FromSeconds(Math.Max(0, seconds));
        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? Max(at - DateTimeOffset.UtcNow, TimeSpan.Zero) : null;
    }

    /// <summary>A one-line description: status, code and the service's first message line; never headers or URLs (they may carry SAS tokens).</summary>
    public static string Describe(RequestFailedException e)
    {
        var first = e.Message.Split('\n', 2)[0].Trim();
        return $"{(e.Status == 0 ? "" : $"{e.Status} ")}{e.ErrorCode ?? "error"}: {(first.Length > 400 ? first[..400] + "…" : first)}";
    }

    /// <summary>The provisioning failure an unretried (or retried out) fault becomes.</summary>
    public static ProvisionFailure ToProvisionException(RequestFailedException e, string doing)
    {
        return new ProvisionFailure(Classify(e), $"{doing}: {Describe(e)}", e);
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}

/// <summary>An Azure provisioning failure; its kind follows from the fault's class.</summary>
public sealed class ProvisionFailure(AzureFaultClass fault, string message, Exception? inner = null)
    : Provision.ProvisionException(AzureFaults.Kind(fault), message, inner);
