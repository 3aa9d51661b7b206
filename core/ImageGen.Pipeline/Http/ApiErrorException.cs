namespace ImageGen.Pipeline.Http;

/// <summary>Thrown where an ApiError ends a request early; the endpoint answers with it.</summary>
public sealed class ApiErrorException(ApiError error, IReadOnlyDictionary<string, string>? headers = null) : Exception(error.Message)
{
    public ApiError Error { get; } = error;
    /// <summary>Headers the error answer carries, such as Retry-After.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; } = headers;
}
