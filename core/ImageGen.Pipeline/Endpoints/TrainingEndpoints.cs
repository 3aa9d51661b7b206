using ImageGen.Pipeline.Http;
using ImageGen.Pipeline.Orchestration;
using Microsoft.AspNetCore.Http;

namespace ImageGen.Pipeline.Endpoints;

/// <summary>The one mapping between ASP.NET Core requests and the training endpoints, used by the Functions app and the local host.</summary>
public static class TrainingEndpoints
{
    /// <summary>Largest options body accepted by POST .../train.</summary>
    public const int MaxOptionsBytes = 16 * 1024;

    public static async Task StartAsync(HttpContext context, TrainingControl control, string dataset)
    {
        var request = context.Request;
        if (RefusedAsNotJson(request) is { } notJson)
        {
            await ApiResultWriter.WriteAsync(context.Response, notJson);
            return;
        }
        if (request.ContentLength > MaxOptionsBytes)
        {
            var tooLong = new ApiError(413, $"the options body is {request.ContentLength} bytes; at most {MaxOptionsBytes} are accepted", "body");
            await ApiResultWriter.WriteAsync(context.Response, ApiResult.Error(tooLong));
            return;
        }
        var buffer = new byte[MaxOptionsBytes + 1];
        int length = 0, read;
        while (length < buffer.Length && (read = await request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted)) > 0) length += read;
        if (length > MaxOptionsBytes)
        {
            await ApiResultWriter.WriteAsync(context.Response, ApiResult.Error(new ApiError(413, $"the options body is over {MaxOptionsBytes} bytes", "body")));
            return;
        }
        string body = System.Text.Encoding.UTF8.GetString(buffer, 0, length);
        await ApiResultWriter.WriteAsync(context.Response, await control.StartTrainingAsync(dataset, body, BaseUrl(request), context.RequestAborted));
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
