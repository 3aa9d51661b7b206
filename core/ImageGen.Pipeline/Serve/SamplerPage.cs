using ImageGen.Pipeline.Http;

namespace ImageGen.Pipeline.Serve;

public static class SamplerPage
{
    /// <summary>
    /// A one-page sampler for people (GET /api/ui): a form over the samples endpoint's parameters that shows the
    /// grid with its model version and seeds. Static; it calls the API from the browser, passing on ?code= keys.
    /// </summary>
    public static ApiResult Result() => new(200, "text/html; charset=utf-8", SamplerPageHtml.Value, new Dictionary<string, string>
    {
        ["Cache-Control"] = "no-cache",
        ["Content-Security-Policy"] = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: data:",
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
