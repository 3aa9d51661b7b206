using System.Security.Cryptography;
using System.Text;

namespace ImageGen.Pipeline.Serve;

/// <summary>HTTP caching of sample answers: seeded requests get a weak ETag and a cache policy; others are not stored.</summary>
public static class SampleCaching
{
    /// <summary>Adds ETag and Cache-Control; true when If-None-Match already holds this answer (reply 304).</summary>
    public static bool AddHeaders(SampleQuery request, string version, string? ifNoneMatch, Dictionary<string, string> headers)
    {
        if (!request.Deterministic)
        {
            headers["Cache-Control"] = "no-store";
            return false;
        }
        // Weak: the images are the same, but a pass shared with other requests may round a pixel differently
        // from a lone pass (libtorch picks kernels by batch size), so the bytes are not promised.
        string opaque = "\"" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(request.Canonical(version))))[..32].ToLowerInvariant() + "\"";
        headers["ETag"] = "W/" + opaque;
        // A named version never changes; "latest" may move, so caches must revalidate (cheap: 304).
        headers["Cache-Control"] = request.Version is null ? "public, no-cache" : "public, max-age=31536000, immutable";
        // If-None-Match compares weakly (RFC 9110 13.1.2): W/"x" and "x" match alike. "*" is not taken: it would answer
        // 304 before the model could refuse the request (a class it lacks, too many pixels); a tag, which only a 200
        // hands out, names an answer that was valid.
        return ifNoneMatch is not null && ifNoneMatch.Split(',').Select(t => t.Trim())
            .Any(t => (t.StartsWith("W/", StringComparison.Ordinal) ? t[2..] : t) == opaque);
    }
}
