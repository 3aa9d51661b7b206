using Azure;
using Azure.Storage.Blobs;

namespace ImageGen.Pipeline.Storage;

/// <summary>Containers made where they are missing, by an identity that may not have the right to make them.</summary>
public static class BlobContainers
{
    /// <summary>
    /// Creates the container where it is missing. In Azure the template makes every container and no app identity may
    /// create one (infra/main.bicep): the storage service checks that right before it looks whether the container exists,
    /// so it answers 403 even for one that does. That answer is taken as "made by the deployment"; were the container
    /// truly missing, the first read or write in it fails with 404 naming it. Locally (Azurite, connection-string keys)
    /// the container is simply created.
    /// </summary>
    public static async Task EnsureExistsAsync(this BlobContainerClient container, CancellationToken cancellationToken = default)
    {
        try { await container.CreateIfNotExistsAsync(cancellationToken: cancellationToken); }
        catch (RequestFailedException e) when (e.Status == 403) { }
    }
}
