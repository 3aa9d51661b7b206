using System.Text.Json;
using ImageGen.Core.Models;
using ImageGen.Pipeline.Http;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Orchestration;
using Microsoft.AspNetCore.Http;

namespace ImageGen.Pipeline.Endpoints;

/// <summary>The one mapping between ASP.NET Core requests and the training endpoints, used by the Functions app and the local host.</summary>
public static class TrainingEndpoints
{
    /// <summary>Largest options body accepted by POST .../train.</summary>
    public const int MaxOptionsBytes = DropFiles.MaxOptionsBytes;

    /// <summary>Largest body accepted by POST .../uploads: about 24 MB of files once base64 is undone.</summary>
    public const int MaxUploadBytes = 32 * 1024 * 1024;

    public static async Task StartAsync(HttpContext context, TrainingControl control, string dataset)
    {
        var (body, refused) = await ReadJsonBodyAsync(context, MaxOptionsBytes, "the options body");
        await ApiResultWriter.WriteAsync(context.Response, refused
            ?? await control.StartTrainingAsync(dataset, System.Text.Encoding.UTF8.GetString(body.Span), BaseUrl(context.Request), context.RequestAborted));
    }

    /// <summary>POST .../uploads: files as JSON (name and base64 data), so that a cross-site form cannot upload either.</summary>
    public static async Task UploadAsync(HttpContext context, TrainingControl control, string dataset)
    {
        var (body, refused) = await ReadJsonBodyAsync(context, MaxUploadBytes, "the upload body");
        if (refused is null)
        {
            UploadBody? upload = null;
            try { upload = JsonSerializer.Deserialize<UploadBody>(body.Span, Json.Options); }
            catch (JsonException e) { refused = ApiResult.Error(new ApiError(400, $"the upload body is not the expected JSON: {e.Message}", "body", UploadBody.Shape)); }
            refused ??= await control.UploadAsync(dataset, upload ?? new UploadBody(null), BaseUrl(context.Request), context.RequestAborted);
        }
        await ApiResultWriter.WriteAsync(context.Response, refused);
    }

    /// <summary>A state-changing request's body: JSON only, at most <paramref name="maxBytes"/>, else the answer that refuses it.</summary>
    private static async Task<(ReadOnlyMemory<byte> Body, ApiResult? Refused)> ReadJsonBodyAsync(HttpContext context, int maxBytes, string what)
    {
        var request = context.Request;
        if (RefusedAsNotJson(request) is { } notJson) return (default, notJson);
        if (request.ContentLength > maxBytes)
            return (default, ApiResult.Error(new ApiError(413, $"{what} is {request.ContentLength} bytes; at most {maxBytes} are accepted", "body")));
        // The server's own limit (Kestrel's 30,000,000 bytes, in the Functions worker too) would cut an upload short of
        // MaxUploadBytes with a bare 413; this endpoint's limit is the one checked here, and named.
        // Only ever raised: below the server's own limit, a chunked body past it would fail in the server before this check.
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false, MaxRequestBodySize: { } serverLimit } limit
            && serverLimit <= maxBytes)
            limit.MaxRequestBodySize = maxBytes + 1L;
        var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > maxBytes)
                return (default, ApiResult.Error(new ApiError(413, $"{what} is over {maxBytes} bytes", "body")));
            buffer.Write(chunk, 0, read);
        }
        return (buffer.GetBuffer().AsMemory(0, (int)buffer.Length), null); // the bytes read, not a copy
    }

    public static async Task StatusAsync(HttpContext context, TrainingControl control, string dataset) =>
        await ApiResultWriter.WriteAsync(context.Response, await control.StatusAsync(dataset, BaseUrl(context.Request), context.RequestAborted));

    public static async Task SampleGridAsync(HttpContext context, TrainingControl control, string dataset) =>
        await ApiResultWriter.WriteAsync(context.Response, await control.SampleGridAsync(dataset, context.RequestAborted));

    private static string BaseUrl(HttpRequest request) => $"{request.Scheme}://{request.Host}";

    public static async Task CancelAsync(HttpContext context, TrainingControl control, string dataset) =>
        await ApiResultWriter.WriteAsync(context.Response, RefusedAsNotJson(context.Request) ?? await control.CancelAsync(dataset, context.RequestAborted));

    public static async Task ListDatasetsAsync(HttpContext context, TrainingControl control) =>
        await ApiResultWriter.WriteAsync(context.Response, await control.ListDatasetsAsync(context.RequestAborted));

    public static async Task ListModelsAsync(HttpContext context, TrainingControl control, string dataset) =>
        await ApiResultWriter.WriteAsync(context.Response, await control.ListModelsAsync(dataset, context.RequestAborted));

    public static async Task PromoteAsync(HttpContext context, TrainingControl control, string dataset, string version) =>
        await ApiResultWriter.WriteAsync(context.Response, RefusedAsNotJson(context.Request) ?? await control.PromoteAsync(dataset, version, context.RequestAborted));

    public static async Task RollbackAsync(HttpContext context, TrainingControl control, string dataset) =>
        await ApiResultWriter.WriteAsync(context.Response, RefusedAsNotJson(context.Request) ?? await control.RollbackAsync(dataset, context.RequestAborted));

    /// <summary>
    /// Every endpoint that changes state (start, cancel, promote, rollback) takes JSON only (an empty body or an object,
    /// sent as application/json): a browser cannot send that cross-site without a CORS preflight, so a form or a no-cors
    /// fetch on another site cannot start or cancel training or move latest.
    /// </summary>
    private static ApiResult? RefusedAsNotJson(HttpRequest request) =>
        request.ContentType is { } type && type.Split(';')[0].Trim().Equals("application/json", StringComparison.OrdinalIgnoreCase)
            ? null
            : ApiResult.Error(new ApiError(415, $"send Content-Type: application/json, not '{request.ContentType ?? "none"}'", "Content-Type", "application/json"));
}
