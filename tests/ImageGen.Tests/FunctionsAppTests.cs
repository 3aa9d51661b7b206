using System.Text.Json;

namespace ImageGen.Tests;

/// <summary>
/// Core Tools cannot run here, so the generated functions.metadata is checked instead: a broken trigger,
/// route or auth level fails the tests.
/// </summary>
public class FunctionsAppTests
{
    [Theory]
    [InlineData("Samples", "get", "datasets/{dataset}/samples", "Function")]
    [InlineData("Reconstruct", "post", "datasets/{dataset}/reconstruct", "Function")]
    [InlineData("Health", "get", "health", "Anonymous")]
    public void Generated_metadata_declares_each_http_function_with_its_route_and_key_level(string name, string method, string route, string authLevel)
    {
        var function = Metadata().Single(f => f.GetProperty("name").GetString() == name);
        var trigger = function.GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "httpTrigger");
        Assert.Equal(route, trigger.GetProperty("route").GetString());
        Assert.Equal(authLevel, trigger.GetProperty("authLevel").GetString());
        Assert.Equal([method], trigger.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public void Host_json_and_the_sample_settings_are_valid_and_name_the_isolated_worker()
    {
        string root = AzuriteFixture.RepoRoot();
        var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "host.json"))).RootElement;
        Assert.Equal("2.0", host.GetProperty("version").GetString());
        var settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "local.settings.sample.json"))).RootElement.GetProperty("Values");
        Assert.Equal("dotnet-isolated", settings.GetProperty("FUNCTIONS_WORKER_RUNTIME").GetString());
        Assert.Equal("UseDevelopmentStorage=true", settings.GetProperty("AzureWebJobsStorage").GetString());
    }

    private static List<JsonElement> Metadata()
    {
        string root = AzuriteFixture.RepoRoot();
        var files = Directory.GetFiles(Path.Combine(root, "functions", "ImageGen.Functions", "bin"), "functions.metadata", SearchOption.AllDirectories)
            .OrderByDescending(File.GetLastWriteTimeUtc).ToList();
        Assert.True(files.Count > 0, "functions.metadata not found: build functions/ImageGen.Functions first (the solution build does)");
        return JsonDocument.Parse(File.ReadAllText(files[0])).RootElement.EnumerateArray().ToList();
    }
}
