using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace ImageGen.Tests;

/// <summary>
/// Docker and the Azure Developer CLI cannot run here, so what they would read is checked instead: the Dockerfiles
/// under infra/docker (every COPY source exists in the build context, the publish targets the Functions app with the
/// right TorchBackend, the runtime settings match the app), azure.yaml (projects, Dockerfiles and hooks exist, the
/// services match the template's tagged apps) and the postdeploy hook (run with a stand-in for the Azure CLI).
/// </summary>
public class InfraTests
{
    private static readonly string Root = AzuriteFixture.RepoRoot();
    private const string FunctionsProject = "functions/ImageGen.Functions";
    private const string LeanFunctionsProject = "functions/ImageGen.Functions.Front";

    [Theory]
    [InlineData("gpu.Dockerfile", true)]
    [InlineData("cpu.Dockerfile", false)]
    public void Each_Dockerfile_publishes_the_functions_app_from_the_repository_root(string name, bool cuda)
    {
        string dockerfile = Path.Combine(Root, "infra", "docker", name);
        var instructions = ParseDockerfile(dockerfile);
        var stages = Stages(instructions);
        Assert.True(stages.Count == 2, $"{name}: a build stage and a runtime stage, found {stages.Count}");
        var (build, runtime) = (stages[0], stages[^1]);

        // Base images come from build args; no registry host is written in the file.
        var args = instructions.TakeWhile(i => i.Keyword != "FROM").Where(i => i.Keyword == "ARG")
            .Select(i => i.Arguments.Split('=', 2)).ToDictionary(a => a[0], a => a.Length > 1 ? a[1] : "");
        foreach (var from in stages.Select(s => s[0].Arguments.Split(' ')[0]))
        {
            Assert.Matches(@"^\$\{[A-Z_]+\}$", from);
            Assert.True(args.ContainsKey(from[2..^1]), $"{name}: FROM {from} is not a declared ARG");
        }
        foreach (var (arg, value) in args)
        {
            string firstSegment = Regex.Replace(value, @"\$\{[A-Za-z_]+\}", "").Split('/')[0];
            Assert.False(firstSegment.Contains('.') || firstSegment.Contains(':'), $"{name}: ARG {arg}={value} names a registry host");
        }
        string dotnet = Regex.Match(File.ReadAllText(Path.Combine(Root, "Directory.Build.props")), @"<TargetFramework>net(\d+\.\d+)<").Groups[1].Value;
        Assert.EndsWith($"dotnet/sdk:{dotnet}", args["SDK_IMAGE"]);
        Assert.EndsWith($"azure-functions/dotnet-isolated:4-dotnet-isolated{dotnet}", args["FUNCTIONS_BASE_IMAGE"]);
        Assert.EndsWith(" AS build", build[0].Arguments);

        // Every COPY source exists in the context (the repository root), is not kept out by the Dockerfile's ignore
        // file, and lands at the same relative path, so the projects' relative references resolve.
        string ignoreFile = dockerfile + ".dockerignore";
        Assert.True(File.Exists(ignoreFile), $"no {Path.GetFileName(ignoreFile)} beside {name}");
        var ignored = IgnorePatterns(ignoreFile);
        var copies = build.Where(i => i.Keyword == "COPY").Select(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        var copied = new List<string>();
        foreach (var copy in copies)
        {
            Assert.DoesNotContain(copy, part => part.StartsWith("--", StringComparison.Ordinal));
            string destination = copy[^1].TrimEnd('/');
            foreach (string source in copy[..^1].Select(s => s.TrimEnd('/')))
            {
                string full = Path.Combine(Root, source);
                Assert.True(File.Exists(full) || Directory.Exists(full), $"{name}: COPY {source}: not in the repository");
                Assert.False(IsIgnored(ignored, source), $"{name}: COPY {source}: kept out of the context by {Path.GetFileName(ignoreFile)}");
                string expected = Directory.Exists(full) ? source : Path.GetDirectoryName(source)!.Replace('\\', '/');
                Assert.True(destination == (expected.Length == 0 ? "." : expected), $"{name}: COPY {source} lands in {destination}");
                copied.Add(source);
            }
        }
        foreach (string dir in new[] { "core/ImageGen.Core/bin", "functions/ImageGen.Functions/obj", "tools/build/HandleLifetimes/obj", ".imagegen", "runs", ".git" })
            Assert.True(IsIgnored(ignored, dir), $"{Path.GetFileName(ignoreFile)} lets {dir} into the context");

        // ... and together they hold everything the publish reads: the build files, every project the app references
        // (transitively), the targets Directory.Build.targets imports and the files the app links in.
        foreach (string needed in BuildInputs($"{FunctionsProject}/ImageGen.Functions.csproj"))
            Assert.True(copied.Any(c => needed == c || needed.StartsWith(c + "/", StringComparison.Ordinal)), $"{name}: {needed} is needed by the build but not copied");

        // The publish: the Functions app, linux-x64, the right TorchBackend (restore too, or its layer is wasted).
        string publish = Assert.Single(build, i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish")).Arguments;
        string restore = Assert.Single(build, i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet restore")).Arguments;
        var publishArgs = Regex.Match(publish, @"dotnet publish ([^&]+)").Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(FunctionsProject, publishArgs[0]);
        Assert.True(File.Exists(Path.Combine(Root, FunctionsProject, "ImageGen.Functions.csproj")));
        Assert.Equal("linux-x64", publishArgs[Array.IndexOf(publishArgs, "-r") + 1]);
        Assert.Equal("Release", publishArgs[Array.IndexOf(publishArgs, "-c") + 1]);
        Assert.Contains($"dotnet restore {FunctionsProject} -r linux-x64", restore);
        foreach (string command in new[] { publish, restore })
        {
            if (cuda) Assert.Contains("-p:TorchBackend=cuda", command);
            else Assert.DoesNotContain("TorchBackend", command);
        }
        Assert.Equal(cuda, File.ReadAllText(dockerfile).Contains("TorchBackend=cuda"));
        string publishDir = publishArgs[Array.IndexOf(publishArgs, "-o") + 1];

        // The build checks the entry assembly the Functions host starts: the one worker.config.json names in the
        // app's own build output, and the natives of the chosen backend.
        string assembly = AssemblyName($"{FunctionsProject}/ImageGen.Functions.csproj");
        Assert.Contains($"test -f {publishDir}/{assembly}.dll", publish);
        Assert.Contains($"test -f {publishDir}/functions.metadata", publish);
        Assert.Equal($"{assembly}.dll", WorkerConfig().GetProperty("description").GetProperty("defaultWorkerPath").GetString());
        Assert.Contains(cuda ? $"test -f {publishDir}/libtorch_cuda.so" : $"test ! -e {publishDir}/libtorch_cuda.so", publish);

        // The runtime stage: the published folder is the Functions host's script root; the worker runtime is the
        // one the app's settings name; the host listens where the Container Apps probes call.
        var env = runtime.Where(i => i.Keyword == "ENV").SelectMany(i => Regex.Matches(i.Arguments, @"(\S+?)=(\S+)").Select(m => (m.Groups[1].Value, m.Groups[2].Value)))
            .ToDictionary(e => e.Item1, e => e.Item2);
        var fromBuild = Assert.Single(runtime, i => i.Keyword == "COPY").Arguments.Split(' ');
        Assert.Equal(["--from=build", publishDir, env["AzureWebJobsScriptRoot"]], fromBuild);
        Assert.Equal("/home/site/wwwroot", env["AzureWebJobsScriptRoot"]);
        var settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "local.settings.sample.json"))).RootElement.GetProperty("Values");
        Assert.Equal(settings.GetProperty("FUNCTIONS_WORKER_RUNTIME").GetString(), env["FUNCTIONS_WORKER_RUNTIME"]);
        Assert.Equal("true", env["AzureFunctionsJobHost__Logging__Console__IsEnabled"]);
        int port = int.Parse(Regex.Match(env["ASPNETCORE_URLS"], @":(\d+)$").Groups[1].Value);
        foreach (var probe in CompiledMainBicep().GetProperty("variables").GetProperty("trainingProbes").EnumerateArray())
            Assert.Equal(port, probe.GetProperty("httpGet").GetProperty("port").GetInt32());
        Assert.Equal(cuda, env.ContainsKey("NVIDIA_VISIBLE_DEVICES"));
    }

    [Fact]
    public void Azure_yaml_names_existing_projects_dockerfiles_and_hooks_and_the_apps_the_template_tags()
    {
        var azure = ParseYaml(File.ReadAllText(Path.Combine(Root, "azure.yaml")));
        var infra = Map(azure["infra"]);
        Assert.Equal("bicep", infra["provider"]);
        Assert.True(File.Exists(Path.Combine(Root, (string)infra["path"]!, $"{infra["module"]}.bicep")), "infra path and module name no Bicep file");

        var template = CompiledMainBicep();
        var services = Map(azure["services"]);
        Assert.Equal(["front", "training"], services.Keys.Order());
        var hosts = new Dictionary<string, string> { ["function"] = "Microsoft.Web/sites", ["containerapp"] = "Microsoft.App/containerApps" };
        foreach (var (serviceName, value) in services)
        {
            var service = Map(value);
            string project = Path.GetFullPath(Path.Combine(Root, (string)service["project"]!));
            Assert.True(Directory.EnumerateFiles(project, "*.csproj").Any(), $"{serviceName}: no project at {service["project"]}");
            Assert.Equal("dotnet", service["language"]);
            // azd finds the resource to deploy to by its azd-service-name tag.
            string type = hosts[(string)service["host"]!];
            Assert.Contains(template.GetProperty("resources").EnumerateArray(), r => r.GetProperty("type").GetString() == type
                && r.TryGetProperty("tags", out var tags) && tags.TryGetProperty("azd-service-name", out var tag) && tag.GetString() == serviceName);
        }
        Assert.Equal("function", Map(services["front"])["host"]);
        Assert.Equal(LeanFunctionsProject, Map(services["front"])["project"]); // the Flex app: the lean build, no libtorch
        Assert.Equal(FunctionsProject, Map(services["training"])["project"]);

        // The training image: the GPU Dockerfile, the repository root as context (docker paths are relative to the project).
        var training = Map(services["training"]);
        Assert.Equal("containerapp", training["host"]);
        var docker = Map(training["docker"]);
        string project2 = Path.Combine(Root, (string)training["project"]!);
        string dockerfile = Path.GetFullPath(Path.Combine(project2, (string)docker["path"]!));
        Assert.Equal(Path.GetFullPath(Path.Combine(Root, "infra", "docker", "gpu.Dockerfile")), dockerfile);
        Assert.True(File.Exists(dockerfile));
        Assert.Equal(Path.GetFullPath(Root).TrimEnd('/'), Path.GetFullPath(Path.Combine(project2, (string)docker["context"]!)).TrimEnd('/'));
        var declared = ParseDockerfile(dockerfile).Where(i => i.Keyword == "ARG").Select(i => i.Arguments.Split('=')[0]).ToHashSet();
        foreach (string buildArg in List(docker["buildArgs"]))
            Assert.Contains(buildArg.Split('=')[0], declared);
        // azd pushes to the registry the template outputs.
        Assert.True(template.GetProperty("outputs").TryGetProperty("AZURE_CONTAINER_REGISTRY_ENDPOINT", out _));

        // Hooks: bash scripts that exist and can be run; the postdeploy one wires Event Grid.
        var hooks = Map(azure["hooks"]);
        Assert.Contains("postdeploy", hooks.Keys);
        foreach (var (hookName, value) in hooks)
        {
            var hook = Map(value);
            Assert.Equal("sh", hook["shell"]);
            string script = Path.Combine(Root, (string)hook["run"]!);
            Assert.True(File.Exists(script), $"{hookName}: no {hook["run"]}");
            Assert.StartsWith("infra/hooks/", (string)hook["run"]!);
            Assert.StartsWith("#!/usr/bin/env bash\n", File.ReadAllText(script));
            Assert.True(File.GetUnixFileMode(script).HasFlag(UnixFileMode.UserExecute), $"{hook["run"]} is not executable");
        }
        Assert.Contains("wireEventGrid=true", File.ReadAllText(Path.Combine(Root, (string)Map(hooks["postdeploy"])["run"]!)));
    }

    /// <summary>
    /// The postdeploy hook, run with a stand-in for the Azure CLI that records its arguments: it deploys
    /// infra/main.bicep again with every parameter of infra/main.parameters.json (filled from the environment as azd
    /// fills it), the image azd deployed, and wireEventGrid=true. Every parameter it passes is one the template declares.
    /// </summary>
    [Fact]
    public void The_postdeploy_hook_runs_the_template_again_with_the_same_parameters_and_wireEventGrid()
    {
        var template = CompiledMainBicep();
        var declared = template.GetProperty("parameters").EnumerateObject().Select(p => p.Name).ToHashSet();
        var parameters = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "infra", "main.parameters.json"))).RootElement.GetProperty("parameters");
        var fromEnvironment = new Dictionary<string, (string Variable, string? Default)>();
        foreach (var parameter in parameters.EnumerateObject())
        {
            Assert.Contains(parameter.Name, declared);
            var match = Regex.Match(parameter.Value.GetProperty("value").GetString()!, @"^\$\{([A-Z_]+)(?:=([^}]*))?\}$");
            Assert.True(match.Success, $"{parameter.Name}: azd fills values of the form ${{VAR}} or ${{VAR=default}} (the hook reads only those)");
            fromEnvironment[parameter.Name] = (match.Groups[1].Value, match.Groups[2].Success ? match.Groups[2].Value : null);
        }
        Assert.Equal("SERVICE_TRAINING_IMAGE_NAME", fromEnvironment["trainingImage"].Variable); // what azd records after deploying the training service
        Assert.Contains("usePrivateNetworking", fromEnvironment.Keys);

        using var bin = new TempFolder();
        string calls = Path.Combine(bin.Path, "calls");
        string az = Path.Combine(bin.Path, "az");
        File.WriteAllText(az, $"#!/usr/bin/env bash\nprintf '%s\\n' \"$*\" >> '{calls}'\n");
        File.SetUnixFileMode(az, File.GetUnixFileMode(az) | UnixFileMode.UserExecute);
        var start = new ProcessStartInfo("bash", [Path.Combine(Root, "infra", "hooks", "postdeploy.sh")])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = bin.Path,
        };
        start.Environment["PATH"] = bin.Path + ":" + Environment.GetEnvironmentVariable("PATH");
        start.Environment["AZURE_RESOURCE_GROUP"] = "rg-test";
        start.Environment["AZURE_ENV_NAME"] = "test";
        start.Environment["SERVICE_TRAINING_IMAGE_NAME"] = "registry.test/imagegen/training:azd-deploy-1";
        start.Environment["BASE_REGISTRY"] = "base.test";
        start.Environment["USE_PRIVATE_NETWORKING"] = "true";
        start.Environment.Remove("GPU_PROFILE");
        start.Environment.Remove("AZURE_SUBSCRIPTION_ID");
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.True(process.ExitCode == 0, stderr.Result);

        string deploy = Assert.Single(File.ReadAllLines(calls), c => c.StartsWith("deployment group create", StringComparison.Ordinal));
        Assert.Contains("-g rg-test", deploy);
        Assert.Contains("-f infra/main.bicep", deploy);
        var passed = Regex.Matches(deploy, @"(\w+)=(\S*)").ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.Equal("true", passed["wireEventGrid"]);
        foreach (var (name, (variable, fallback)) in fromEnvironment)
            Assert.Equal(start.Environment.TryGetValue(variable, out var set) && !string.IsNullOrEmpty(set) ? set : fallback ?? "", passed[name]);
        Assert.All(passed.Keys, name => Assert.Contains(name, declared));
        Assert.Equal("Consumption-GPU-NC8as-T4", passed["gpuProfile"]); // the default of the parameters file, as azd would fill it
    }

    // ---- the compiled template (shared with FunctionsAppTests) ----

    private static readonly Lazy<JsonElement> Compiled = new(Compile);

    /// <summary>infra/main.bicep compiled by the Bicep compiler restored as a package: no errors, no warnings or linter findings.</summary>
    internal static JsonElement CompiledMainBicep() => Compiled.Value;

    private static JsonElement Compile()
    {
        string bicep = typeof(InfraTests).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "BicepPath").Value!;
        Assert.True(File.Exists(bicep), $"no Bicep compiler at {bicep}: restore the test project");
        if (!OperatingSystem.IsWindows() && !File.GetUnixFileMode(bicep).HasFlag(UnixFileMode.UserExecute))
            File.SetUnixFileMode(bicep, File.GetUnixFileMode(bicep) | UnixFileMode.UserExecute); // package extraction drops the bit
        var start = new ProcessStartInfo(bicep, ["build", Path.Combine(Root, "infra", "main.bicep"), "--stdout"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.Environment["BICEP_TELEMETRY_ENABLED"] = "false";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "bicep build did not finish in 2 minutes");
        Assert.True(process.ExitCode == 0, stderr.Result);
        Assert.Equal("", stderr.Result.Trim()); // warnings and linter findings are written here
        return JsonDocument.Parse(stdout.Result).RootElement.Clone();
    }

    // ---- Dockerfiles ----

    private sealed record Instruction(string Keyword, string Arguments);

    /// <summary>Instructions with continuation lines joined and comments dropped (what Docker's parser does for these files).</summary>
    private static List<Instruction> ParseDockerfile(string path)
    {
        var instructions = new List<Instruction>();
        string pending = "";
        foreach (string raw in File.ReadAllLines(path))
        {
            string line = raw.Trim();
            if (line.StartsWith('#') || (line.Length == 0 && pending.Length == 0)) continue;
            bool continues = line.EndsWith('\\');
            pending += (pending.Length > 0 ? " " : "") + (continues ? line[..^1].Trim() : line);
            if (continues) continue;
            var parts = pending.Split(' ', 2);
            instructions.Add(new Instruction(parts[0].ToUpperInvariant(), parts.Length > 1 ? Regex.Replace(parts[1].Trim(), @"\s+", " ") : ""));
            pending = "";
        }
        Assert.True(pending.Length == 0, $"{path}: ends inside a continued line");
        return instructions;
    }

    private static List<List<Instruction>> Stages(List<Instruction> instructions)
    {
        var stages = new List<List<Instruction>>();
        foreach (var instruction in instructions)
        {
            if (instruction.Keyword == "FROM") stages.Add([]);
            if (stages.Count > 0) stages[^1].Add(instruction);
        }
        return stages;
    }

    /// <summary>The patterns of a .dockerignore as regular expressions (no exceptions with '!' are used here).</summary>
    private static List<Regex> IgnorePatterns(string path) =>
        File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(pattern =>
            {
                Assert.False(pattern.StartsWith('!'), $"{path}: exception patterns are not checked by this test");
                string regex = Regex.Escape(pattern.Trim('/')).Replace(@"\*\*/", "(.*/)?").Replace(@"\*\*", ".*").Replace(@"\*", "[^/]*").Replace(@"\?", "[^/]");
                return new Regex($"^{regex}$");
            }).ToList();

    /// <summary>A path is kept out when a pattern matches it or one of the folders above it.</summary>
    private static bool IsIgnored(List<Regex> patterns, string path)
    {
        var parts = path.Split('/');
        return Enumerable.Range(1, parts.Length).Select(n => string.Join('/', parts[..n])).Any(p => patterns.Any(r => r.IsMatch(p)));
    }

    /// <summary>What building a project reads from the repository, as paths relative to the root: the build files at
    /// the root, the targets Directory.Build.targets imports, each project in its reference closure (its folder), each
    /// file a project links in or imports from outside its folder (a glob: the folder before its first wildcard).</summary>
    private static IEnumerable<string> BuildInputs(string project)
    {
        var inputs = new HashSet<string> { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" };
        foreach (Match import in Regex.Matches(File.ReadAllText(Path.Combine(Root, "Directory.Build.targets")), @"Project=""\$\(MSBuildThisFileDirectory\)([^""]+)"""))
            inputs.Add(import.Groups[1].Value);
        var pending = new Queue<string>([project]);
        var seen = new HashSet<string>();
        while (pending.Count > 0)
        {
            string current = pending.Dequeue();
            if (!seen.Add(current)) continue;
            string folder = Path.GetDirectoryName(current)!.Replace('\\', '/');
            inputs.Add(folder);
            foreach (var item in XDocument.Load(Path.Combine(Root, current)).Descendants()
                .Where(e => e.Attribute("Include") is not null || e.Name.LocalName == "Import"))
            {
                string include = (item.Attribute("Include") ?? item.Attribute("Project"))!.Value;
                if (!include.StartsWith("../", StringComparison.Ordinal)) continue; // inside the project's folder
                int wildcard = include.IndexOfAny(['*', '?']);
                if (wildcard >= 0) include = include[..include.LastIndexOf('/', wildcard)];
                string relative = Path.GetRelativePath(Root, Path.GetFullPath(Path.Combine(Root, folder, include))).Replace('\\', '/');
                if (item.Name.LocalName == "ProjectReference") pending.Enqueue(relative);
                else if (item.Name.LocalName == "Import") { inputs.Add(relative); pending.Enqueue(relative); }
                else inputs.Add(relative);
            }
        }
        return inputs;
    }

    private static string AssemblyName(string project)
    {
        var explicitName = XDocument.Load(Path.Combine(Root, project)).Descendants("AssemblyName").FirstOrDefault()?.Value;
        return explicitName ?? Path.GetFileNameWithoutExtension(project);
    }

    private static JsonElement WorkerConfig()
    {
        var files = Directory.GetFiles(Path.Combine(Root, FunctionsProject, "bin"), "worker.config.json", SearchOption.AllDirectories)
            .OrderByDescending(File.GetLastWriteTimeUtc).ToList();
        Assert.True(files.Count > 0, "worker.config.json not found: build functions/ImageGen.Functions first (the test project's build does)");
        return JsonDocument.Parse(File.ReadAllText(files[0])).RootElement.Clone();
    }

    // ---- azure.yaml: the block-style subset it is written in (maps, lists of scalars, comments) ----

    private sealed record Pending(Dictionary<string, object?> Map, string Key);

    /// <summary>Parses indentation-nested "key: value" maps and "- item" lists of scalars; anything else (flow style,
    /// anchors, multi-line scalars) is refused, so azure.yaml stays in what this test can read.</summary>
    private static Dictionary<string, object?> ParseYaml(string text)
    {
        var root = new Dictionary<string, object?>();
        var stack = new Stack<(int Indent, object Node)>();
        stack.Push((-1, root));
        foreach (string raw in text.Replace("\r", "").Split('\n'))
        {
            string line = Regex.Replace(raw, @"(^|\s)#.*$", "").TrimEnd();
            if (line.Trim().Length == 0) continue;
            int indent = line.Length - line.TrimStart().Length;
            string item = line.Trim();
            while (stack.Peek().Indent >= indent) stack.Pop();
            var (parentIndent, node) = stack.Peek();
            if (node is Pending pending)
            {
                object created = item.StartsWith("- ", StringComparison.Ordinal) ? new List<string>() : new Dictionary<string, object?>();
                pending.Map[pending.Key] = created;
                stack.Pop();
                stack.Push((parentIndent, created));
                node = created;
            }
            if (node is List<string> list && item.StartsWith("- ", StringComparison.Ordinal))
            {
                list.Add(Scalar(item[2..]));
                continue;
            }
            var entry = Regex.Match(item, @"^([A-Za-z0-9_.-]+):(?:\s+(.*))?$");
            if (node is not Dictionary<string, object?> map || !entry.Success) throw new FormatException($"azure.yaml: unsupported line '{raw}'");
            string key = entry.Groups[1].Value;
            if (entry.Groups[2].Success)
            {
                map[key] = Scalar(entry.Groups[2].Value);
            }
            else
            {
                map[key] = null;
                stack.Push((indent, new Pending(map, key)));
            }
        }
        return root;
    }

    private static string Scalar(string value)
    {
        value = value.Trim();
        if (value.Length > 0 && (value[0] is '[' or '{' or '&' or '*' or '|' or '>')) throw new FormatException($"azure.yaml: unsupported value '{value}'");
        return value.Length >= 2 && (value[0] is '"' or '\'') && value[^1] == value[0] ? value[1..^1] : value;
    }

    private static Dictionary<string, object?> Map(object? node) =>
        node as Dictionary<string, object?> ?? throw new FormatException($"expected a map, found {node ?? "nothing"}");

    private static List<string> List(object? node) =>
        node as List<string> ?? throw new FormatException($"expected a list, found {node ?? "nothing"}");
}
