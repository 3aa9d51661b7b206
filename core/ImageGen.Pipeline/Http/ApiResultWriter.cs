using Microsoft.AspNetCore.Http;

namespace ImageGen.Pipeline.Http;

/// <summary>The one writer of an ApiResult onto an ASP.NET Core response (Functions app and local hosts alike).</summary>
public static class ApiResultWriter
{
    public static async Task WriteAsync(HttpResponse response, Task<ApiResult> pending)
    {
        var result = await pending;
        try
        {
            response.StatusCode = result.Status;
            foreach (var (name, value) in result.Headers) response.Headers[name] = value;
            if (result.Body.Length == 0) return;
            response.ContentType = result.ContentType;
            response.ContentLength = result.Body.Length;
            await response.Body.WriteAsync(result.Body);
        }
        finally { result.HeldUntilWritten?.Dispose(); }
    }

    public static Task WriteAsync(HttpResponse response, ApiResult result) => WriteAsync(response, Task.FromResult(result));
}
