namespace ImageGen.Cli.Hosting;

/// <summary>The clone this program runs from: the folder above the build output that holds ImageGen.Functions.sln.</summary>
public static class RepositoryRoot
{
    public static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ImageGen.Functions.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("run from a clone of the repository: ImageGen.Functions.sln was not found above " + AppContext.BaseDirectory);
    }
}
