using Azure.Identity;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;

namespace ImageGen.Pipeline.Storage;

/// <summary>
/// The storage account from configuration, the way the Functions host reads a connection: either a
/// connection string under the name (AzureWebJobsStorage), or identity-based settings beneath it
/// (AzureWebJobsStorage__accountName or __blobServiceUri, with __credential=managedidentity and __clientId
/// for a user-assigned identity; otherwise DefaultAzureCredential).
/// </summary>
public static class StorageConnection
{
    public const string DefaultName = "AzureWebJobsStorage";
    public const string DevelopmentStorage = "UseDevelopmentStorage=true";

    public static BlobServiceClient CreateBlobServiceClient(IConfiguration configuration, string name = DefaultName)
    {
        if (configuration[name] is { Length: > 0 } connectionString) return new BlobServiceClient(connectionString);
        var section = configuration.GetSection(name);
        string? serviceUri = section["blobServiceUri"] ?? section["serviceUri"];
        if (serviceUri is null && section["accountName"] is { Length: > 0 } account) serviceUri = $"https://{account}.blob.core.windows.net";
        if (serviceUri is null)
            throw new InvalidOperationException($"no storage configured: set {name} to a connection string, or {name}__accountName (or {name}__blobServiceUri) for an identity-based connection");
        Azure.Core.TokenCredential credential = string.Equals(section["credential"], "managedidentity", StringComparison.OrdinalIgnoreCase)
            ? new ManagedIdentityCredential(section["clientId"] is { Length: > 0 } clientId ? ManagedIdentityId.FromUserAssignedClientId(clientId) : ManagedIdentityId.SystemAssigned)
            : new DefaultAzureCredential();
        return new BlobServiceClient(new Uri(serviceUri), credential);
    }

    /// <summary>A connection string for the local tools: the argument, else AzureWebJobsStorage from the environment, else Azurite.</summary>
    public static string LocalConnectionString(string? given) =>
        given ?? Environment.GetEnvironmentVariable(DefaultName) ?? DevelopmentStorage;
}
