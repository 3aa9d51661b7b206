using System.Text.Json;
using ImageGen.Core.Models;

namespace ImageGen.Pipeline.Http;

/// <summary>An HTTP answer in plain terms, so the Functions app and the local host map it the same way.</summary>
public sealed record ApiResult(int Status, string ContentType, byte[] Body, IReadOnlyDictionary<string, string> Headers)
{
    /// <summary>What the answer holds until it is written (its share of the serving pixel budget); the writer releases it.</summary>
    public IDisposable? HeldUntilWritten { get; init; }

    public static ApiResult Error(ApiError error, IReadOnlyDictionary<string, string>? headers = null) => new(error.Status, "application/json",
        JsonSerializer.SerializeToUtf8Bytes(new { error = error.Message, parameter = error.Parameter, allowed = error.Allowed }, Json.Compact),
        headers ?? new Dictionary<string, string>());

    public static ApiResult JsonBody(object value, int status = 200) =>
        new(status, "application/json", JsonSerializer.SerializeToUtf8Bytes(value, Json.Compact), new Dictionary<string, string>());
}
