using System.Diagnostics;
using ImageGen.Pipeline.Telemetry;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;

namespace ImageGen.Functions;

/// <summary>
/// Counts and times every HTTP function's answer by the function's name (imagegen.http.requests), as ApiRoutes.Map's
/// endpoint filter does on the local hosts, so both record the same series.
/// </summary>
internal sealed class RequestMetrics : IFunctionsWorkerMiddleware
{
    public async Task Invoke(FunctionContext context, FunctionExecutionDelegate next)
    {
        var http = context.GetHttpContext();
        if (http is null)
        {
            await next(context);
            return;
        }
        long started = Stopwatch.GetTimestamp();
        Exception? thrown = null;
        try { await next(context); }
        catch (Exception e)
        {
            thrown = e;
            throw;
        }
        finally
        {
            string? dataset = context.BindingContext.BindingData.TryGetValue("dataset", out var value) ? value as string : null;
            ImageGenTelemetry.RecordRequest(context.FunctionDefinition.Name, dataset,
                ImageGenTelemetry.RecordedStatus(http.Response.StatusCode, thrown, http.RequestAborted), Stopwatch.GetElapsedTime(started));
        }
    }
}
