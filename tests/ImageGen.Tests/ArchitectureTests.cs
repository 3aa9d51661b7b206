using System.Text.RegularExpressions;

namespace ImageGen.Tests;

/// <summary>
/// The rooms of docs/architecture.md, checked from the source: inside each project a folder may name only the
/// folders listed before it, so the arrows run one way and a cycle fails the build's tests. A project and its .Torch
/// half share namespaces, so their folders are one list.
/// </summary>
public class ArchitectureTests
{
    public static TheoryData<string, string[]> Projects => new()
    {
        { "core/ImageGen.Core", ["Runtime", "Imaging", "Models", "Data", "Checkpoints", "Sampling", "Export", "Training", "Metrics"] },
        { "core/ImageGen.Core.Torch", ["Runtime", "Imaging", "Models", "Data", "Checkpoints", "Sampling", "Export", "Training", "Metrics"] },
        { "core/ImageGen.Pipeline", ["Telemetry", "Http", "Storage", "Ingest", "Train", "Evaluate", "Publish", "Serve", "Orchestration", "Endpoints"] },
        { "core/ImageGen.Pipeline.Torch", ["Telemetry", "Http", "Storage", "Ingest", "Train", "Evaluate", "Publish", "Serve", "Orchestration", "Endpoints"] },
    };

    [Theory]
    [MemberData(nameof(Projects))]
    public void Each_folder_depends_only_on_the_folders_below_it(string project, string[] bottomToTop)
    {
        string root = Path.Combine(AzuriteFixture.RepoRoot(), project);
        string ns = Path.GetFileName(project).Replace(".Torch", "");
        var reference = new Regex(@"\b" + Regex.Escape(ns) + @"\.(\w+)");
        var wrong = new List<string>();
        foreach (string file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (relative.StartsWith("obj/") || relative.StartsWith("bin/")) continue;
            string room = relative.Split('/')[0];
            int rank = Array.IndexOf(bottomToTop, room);
            Assert.True(rank >= 0, $"{project}/{relative} is in a folder the architecture does not list");
            foreach (Match m in reference.Matches(File.ReadAllText(file)))
            {
                string used = m.Groups[1].Value;
                if (used == room || used == "Torch") continue; // the project's .Torch half, named in comments, is not a room
                int usedRank = Array.IndexOf(bottomToTop, used);
                if (usedRank < 0 || usedRank > rank) wrong.Add($"{relative} uses {ns}.{used}");
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong.Distinct()));
    }

    [Theory]
    [InlineData("core/ImageGen.Core")]
    [InlineData("core/ImageGen.Core.Torch")]
    public void Core_knows_nothing_of_Azure_Functions_or_HTTP(string project)
    {
        string root = Path.Combine(AzuriteFixture.RepoRoot(), project);
        var forbidden = new Regex(@"^using (Azure|Microsoft\.Azure|Microsoft\.AspNetCore|Microsoft\.DurableTask|ImageGen\.Pipeline)\b", RegexOptions.Multiline);
        var offenders = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/") && forbidden.IsMatch(File.ReadAllText(f))).ToList();
        Assert.Empty(offenders);
    }

    /// <summary>What the lean serving build compiles needs no libtorch: no TorchSharp in its sources or its assembly references.</summary>
    [Theory]
    [InlineData("core/ImageGen.Core")]
    [InlineData("core/ImageGen.Pipeline")]
    [InlineData("functions/ImageGen.Functions.Front")]
    public void The_torch_free_projects_name_no_TorchSharp(string project)
    {
        string root = Path.Combine(AzuriteFixture.RepoRoot(), project);
        var offenders = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/") && !f.Contains("/bin/") && File.ReadAllText(f).Contains("TorchSharp")).ToList();
        Assert.Empty(offenders);
        var csproj = File.ReadAllText(Directory.GetFiles(root, "*.csproj").Single());
        Assert.DoesNotContain("TorchSharp\"", csproj);
        Assert.DoesNotContain(".Torch.csproj", csproj);
    }
}
