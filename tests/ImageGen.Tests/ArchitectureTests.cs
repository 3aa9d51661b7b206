using System.Text.RegularExpressions;

namespace ImageGen.Tests;

/// <summary>
/// The rooms of docs/architecture.md, checked from the source: inside each project a folder may name only the
/// folders listed before it, so the arrows run one way and a cycle fails the build's tests.
/// </summary>
public class ArchitectureTests
{
    public static TheoryData<string, string[]> Projects => new()
    {
        { "core/ImageGen.Core", ["Runtime", "Imaging", "Models", "Data", "Checkpoints", "Sampling", "Export", "Training", "Metrics"] },
        { "core/ImageGen.Pipeline", ["Telemetry", "Http", "Storage", "Ingest", "Train", "Evaluate", "Publish", "Serve", "Orchestration", "Endpoints"] },
    };

    [Theory]
    [MemberData(nameof(Projects))]
    public void Each_folder_depends_only_on_the_folders_below_it(string project, string[] bottomToTop)
    {
        string root = Path.Combine(AzuriteFixture.RepoRoot(), project);
        string ns = Path.GetFileName(project);
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
                if (used == room) continue;
                int usedRank = Array.IndexOf(bottomToTop, used);
                if (usedRank < 0 || usedRank > rank) wrong.Add($"{relative} uses {ns}.{used}");
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong.Distinct()));
    }

    [Fact]
    public void Core_knows_nothing_of_Azure_Functions_or_HTTP()
    {
        string root = Path.Combine(AzuriteFixture.RepoRoot(), "core/ImageGen.Core");
        var forbidden = new Regex(@"^using (Azure|Microsoft\.Azure|Microsoft\.AspNetCore|Microsoft\.DurableTask|ImageGen\.Pipeline)\b", RegexOptions.Multiline);
        var offenders = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/") && forbidden.IsMatch(File.ReadAllText(f))).ToList();
        Assert.Empty(offenders);
    }
}
