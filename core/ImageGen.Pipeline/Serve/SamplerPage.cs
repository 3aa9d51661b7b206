using ImageGen.Pipeline.Http;

namespace ImageGen.Pipeline.Serve;

public static class SamplerPage
{
    /// <summary>
    /// The web console for people (GET /api/ui): datasets and their model cards, the running run's progress, generate,
    /// upload. One static page shipped in the assembly; it calls the API from the browser with a key the user types in.
    /// </summary>
    public static ApiResult Result() => new(200, "text/html; charset=utf-8", SamplerPageHtml.Value, new Dictionary<string, string>
    {
        ["Cache-Control"] = "no-cache",
        ["Content-Security-Policy"] = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: data:",
        // The page may be opened as /api/ui?code=KEY: no request it makes may carry that address as its Referer.
        ["Referrer-Policy"] = "no-referrer",
    });

    private static readonly Lazy<byte[]> SamplerPageHtml = new(() =>
    {
        using var resource = typeof(SamplerPage).Assembly.GetManifestResourceStream("ImageGen.Pipeline.Serve.SamplerPage.html")
            ?? throw new InvalidOperationException("the sampler page is not embedded in ImageGen.Pipeline");
        using var buffer = new MemoryStream();
        resource.CopyTo(buffer);
        return buffer.ToArray();
    });
}
