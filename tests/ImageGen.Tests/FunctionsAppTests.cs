using System.Text.Json;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Serve;
using ImageGen.Pipeline.Storage;
using Microsoft.Extensions.Configuration;

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
    [InlineData("ServeStatus", "get", "serve/status", "Function")]
    [InlineData("SamplerPage", "get", "ui", "Anonymous")]
    [InlineData("TrainStart", "post", "datasets/{dataset}/train", "Function")]
    [InlineData("TrainingStatus", "get", "datasets/{dataset}/training", "Function")]
    [InlineData("TrainingCancel", "post", "datasets/{dataset}/training/cancel", "Function")]
    [InlineData("TrainingSamples", "get", "datasets/{dataset}/training/samples.png", "Function")]
    [InlineData("DatasetUpload", "post", "datasets/{dataset}/uploads", "Function")]
    [InlineData("Datasets", "get", "datasets", "Function")]
    [InlineData("Models", "get", "datasets/{dataset}/models", "Function")]
    public void Generated_metadata_declares_each_http_function_with_its_route_and_key_level(string name, string method, string route, string authLevel)
    {
        var function = Metadata().Single(f => f.GetProperty("name").GetString() == name);
        var trigger = function.GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "httpTrigger");
        Assert.Equal(route, trigger.GetProperty("route").GetString());
        Assert.Equal(authLevel, trigger.GetProperty("authLevel").GetString());
        Assert.Equal([method], trigger.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public void The_route_table_the_local_hosts_map_is_exactly_the_Functions_apps_http_functions()
    {
        var http = Metadata().Where(f => f.GetProperty("bindings").EnumerateArray().Any(b => b.GetProperty("type").GetString() == "httpTrigger"))
            .ToDictionary(f => f.GetProperty("name").GetString()!,
                f => f.GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "httpTrigger"));
        Assert.Equal(http.Keys.Order(), ImageGen.Pipeline.Endpoints.ApiRoutes.All.Select(r => r.Function).Order());
        foreach (var route in ImageGen.Pipeline.Endpoints.ApiRoutes.All)
        {
            var trigger = http[route.Function];
            Assert.Equal(route.Route, trigger.GetProperty("route").GetString());
            Assert.Equal([route.Method], trigger.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
            Assert.Equal(route.Anonymous ? "Anonymous" : "Function", trigger.GetProperty("authLevel").GetString());
        }
    }

    [Fact]
    public void Every_orchestrator_and_activity_in_the_registry_has_its_function_with_the_right_trigger()
    {
        var functions = Metadata().ToDictionary(f => f.GetProperty("name").GetString()!);
        foreach (var name in PipelineRegistry.Names)
        {
            Assert.True(functions.ContainsKey(name), $"no function named {name} in functions.metadata");
            string expected = name == DatasetPipeline.Name ? "orchestrationTrigger" : "activityTrigger";
            Assert.Contains(functions[name].GetProperty("bindings").EnumerateArray(), b => b.GetProperty("type").GetString() == expected);
        }
        // HTTP starters and the blob triggers get a durable client on the pipeline's task hub, which the settings name.
        foreach (var name in new[] { "TrainStart", "TrainingStatus", "TrainingSamples", "TrainingCancel", "TrainingImageDropped", "TrainingImageDroppedEventGrid", "Datasets", "Models" })
        {
            var client = functions[name].GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "durableClient");
            Assert.Equal("%PipelineTaskHub%", client.GetProperty("taskHub").GetString());
        }
        var sample = JsonDocument.Parse(File.ReadAllText(Path.Combine(AzuriteFixture.RepoRoot(), "local.settings.sample.json"))).RootElement;
        var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(AzuriteFixture.RepoRoot(), "host.json"))).RootElement;
        Assert.Equal(host.GetProperty("extensions").GetProperty("durableTask").GetProperty("hubName").GetString(),
            sample.GetProperty("Values").GetProperty("PipelineTaskHub").GetString());
    }

    [Theory]
    [InlineData("TrainingImageDropped", null)]
    [InlineData("TrainingImageDroppedEventGrid", "EventGrid")]
    public void The_blob_triggers_watch_training_images_one_polling_and_one_by_event_grid(string name, string? source)
    {
        var trigger = Metadata().Single(f => f.GetProperty("name").GetString() == name)
            .GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "blobTrigger");
        Assert.Equal($"{StorageLayout.TrainingImagesContainer}/{{name}}", trigger.GetProperty("path").GetString());
        Assert.Equal("AzureWebJobsStorage", trigger.GetProperty("connection").GetString());
        Assert.Equal(source, trigger.TryGetProperty("source", out var s) ? s.GetString() : null);
    }

    [Fact]
    public void Host_json_configures_the_durable_task_hub_on_azure_storage_with_a_timeout_longer_than_a_chunk()
    {
        var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(AzuriteFixture.RepoRoot(), "host.json"))).RootElement;
        var durable = host.GetProperty("extensions").GetProperty("durableTask");
        Assert.Equal("AzureStorage", durable.GetProperty("storageProvider").GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(durable.GetProperty("hubName").GetString()));
        var timeout = TimeSpan.Parse(host.GetProperty("functionTimeout").GetString()!);
        var visibility = TimeSpan.Parse(durable.GetProperty("storageProvider").GetProperty("workItemQueueVisibilityTimeout").GetString()!);
        Assert.True(new PipelineSettings().ChunkTime < visibility && visibility <= timeout, $"chunk {new PipelineSettings().ChunkTime}, lock {visibility}, timeout {timeout}");
    }

    [Fact]
    public void The_sample_settings_explain_every_value_and_keep_the_event_grid_trigger_off_locally()
    {
        var sample = JsonDocument.Parse(File.ReadAllText(Path.Combine(AzuriteFixture.RepoRoot(), "local.settings.sample.json"))).RootElement;
        var values = sample.GetProperty("Values");
        var comments = sample.GetProperty("Comments");
        foreach (var value in values.EnumerateObject()) Assert.True(comments.TryGetProperty(value.Name, out _), $"{value.Name} has no comment");
        Assert.Equal("true", values.GetProperty("AzureWebJobs.TrainingImageDroppedEventGrid.Disabled").GetString());
        foreach (var property in typeof(PipelineSettings).GetProperties())
        {
            // A nested record (the training limits) is set key by key: Pipeline__Limits__MaxEpochs.
            var names = property.PropertyType == typeof(TrainingLimits)
                ? typeof(TrainingLimits).GetProperties().Where(p => p.CanWrite).Select(p => $"Pipeline__{property.Name}__{p.Name}")
                : [$"Pipeline__{property.Name}"];
            foreach (var name in names) Assert.True(values.TryGetProperty(name, out _), $"{name} is missing");
        }
        foreach (var property in typeof(ServeOptions).GetProperties())
            Assert.True(values.TryGetProperty($"Serve__{property.Name}", out _), $"Serve__{property.Name} is missing");
    }

    [Fact]
    public void Storage_connections_work_with_a_connection_string_or_an_identity()
    {
        var byString = StorageConnection.CreateBlobServiceClient(Config(("AzureWebJobsStorage", "UseDevelopmentStorage=true")));
        Assert.Equal("devstoreaccount1", byString.AccountName);
        var byIdentity = StorageConnection.CreateBlobServiceClient(Config(("AzureWebJobsStorage:accountName", "imagegenprod"), ("AzureWebJobsStorage:credential", "managedidentity")));
        Assert.Equal(new Uri("https://imagegenprod.blob.core.windows.net"), byIdentity.Uri);
        var byUri = StorageConnection.CreateBlobServiceClient(Config(("AzureWebJobsStorage:blobServiceUri", "https://other.blob.core.windows.net")));
        Assert.Equal("other", byUri.AccountName);
        var missing = Assert.Throws<InvalidOperationException>(() => StorageConnection.CreateBlobServiceClient(Config()));
        Assert.Contains("AzureWebJobsStorage__accountName", missing.Message);
    }

    private static Microsoft.Extensions.Configuration.IConfiguration Config(params (string Key, string Value)[] values) =>
        new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

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

    /// <summary>The functions.metadata of the full build (functions/ImageGen.Functions), or of the lean one (ImageGen.Functions.Front).</summary>
    private static List<JsonElement> Metadata(string project = "ImageGen.Functions") =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(BuildOutput(project), "functions.metadata"))).RootElement.EnumerateArray().ToList();

    /// <summary>The newest build output of a Functions project (the folder holding its functions.metadata).</summary>
    private static string BuildOutput(string project)
    {
        var files = Directory.GetFiles(Path.Combine(AzuriteFixture.RepoRoot(), "functions", project, "bin"), "functions.metadata", SearchOption.AllDirectories)
            .OrderByDescending(File.GetLastWriteTimeUtc).ToList();
        Assert.True(files.Count > 0, $"functions.metadata not found: build functions/{project} first (the solution build does)");
        return Path.GetDirectoryName(files[0])!;
    }

    [Fact]
    public void The_lean_build_declares_every_function_of_the_full_build_but_the_orchestration_and_activities()
    {
        var full = Metadata().Select(f => f.GetProperty("name").GetString()!).ToList();
        var lean = Metadata("ImageGen.Functions.Front").Select(f => f.GetProperty("name").GetString()!).ToList();
        Assert.Subset(full.ToHashSet(), PipelineRegistry.Names.ToHashSet());
        Assert.Equal(full.Except(PipelineRegistry.Names).Order(), lean.Order());
    }

    /// <summary>
    /// The lean build's output holds no TorchSharp or libtorch file, and none of its assemblies references TorchSharp
    /// (read from their metadata, not loaded); the full build's output, checked the same way, does hold them.
    /// </summary>
    [Fact]
    public void The_lean_build_carries_no_TorchSharp_or_libtorch()
    {
        static (List<string> files, List<string> references) Torch(string folder)
        {
            var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Select(Path.GetFileName)
                .Where(f => f!.Contains("torch", StringComparison.OrdinalIgnoreCase)).Select(f => f!).ToList();
            var references = new List<string>();
            foreach (string dll in Directory.EnumerateFiles(folder, "*.dll", SearchOption.AllDirectories))
            {
                using var stream = File.OpenRead(dll);
                using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
                if (!pe.HasMetadata) continue;
                var reader = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
                foreach (var handle in reader.AssemblyReferences)
                    if (reader.GetString(reader.GetAssemblyReference(handle).Name).StartsWith("TorchSharp", StringComparison.Ordinal))
                        references.Add(Path.GetFileName(dll));
            }
            return (files, references);
        }
        var lean = Torch(BuildOutput("ImageGen.Functions.Front"));
        Assert.Empty(lean.files);
        Assert.Empty(lean.references);
        Assert.True(File.Exists(Path.Combine(BuildOutput("ImageGen.Functions.Front"), "libonnxruntime.so")), "the lean build serves with ONNX Runtime: its native library belongs in the output");
        var full = Torch(BuildOutput("ImageGen.Functions"));
        Assert.Contains("TorchSharp.dll", full.files);
        Assert.Contains("ImageGen.Core.Torch.dll", full.references);
    }

    /// <summary>
    /// infra/main.bicep compiled by the real Bicep compiler (restored as a package by this project): no errors, no
    /// warnings or linter findings, and what the app relies on: the Flex front app runs the lean build, which has no
    /// pipeline function (it only signals the training app's hub; azure.yaml, checked in InfraTests), every HTTP function but the probed health endpoints on the
    /// training app, every container the app uses, identity-only storage, the Flex plan, the training app on the GPU
    /// workload profile with liveness and readiness probes on the app's health routes, its image pulled from the
    /// template's registry (no admin user) with its own identity and AcrPull there, versioning and soft delete, one
    /// identity per app with the least it needs (no deletes; only the training app writes data), and with private
    /// networking, private endpoints for the storage account's blob, queue and table services.
    /// </summary>
    [Fact]
    public void Infra_compiles_with_bicep_and_matches_the_app()
    {
        var template = InfraTests.CompiledMainBicep(); // fails on any error, warning or linter finding
        var variables = template.GetProperty("variables");
        Assert.Subset(variables.GetProperty("containers").EnumerateArray().Select(n => n.GetString()!).ToHashSet(), StorageLayout.Containers.ToHashSet());
        var resources = template.GetProperty("resources").EnumerateArray().ToList();
        JsonElement Resource(string type) => resources.Single(r => r.GetProperty("type").GetString() == type);
        Assert.False(Resource("Microsoft.Storage/storageAccounts").GetProperty("properties").GetProperty("allowSharedKeyAccess").GetBoolean());
        Assert.Equal("FlexConsumption", Resource("Microsoft.Web/serverfarms").GetProperty("sku").GetProperty("tier").GetString());
        Assert.Equal("dotnet-isolated", Resource("Microsoft.Web/sites").GetProperty("properties").GetProperty("functionAppConfig").GetProperty("runtime").GetProperty("name").GetString());
        Assert.Contains(Resource("Microsoft.App/managedEnvironments").GetProperty("properties").GetProperty("workloadProfiles").EnumerateArray(),
            profile => profile.GetProperty("name").GetString() == "gpu");
        Assert.Equal("gpu", Resource("Microsoft.App/containerApps").GetProperty("properties").GetProperty("workloadProfileName").GetString());

        // Every HTTP function the build declares is disabled on the GPU training app but the health endpoints its
        // probes call: a new one missing from httpFunctions fails here.
        var httpTriggers = Metadata().Where(f => f.GetProperty("bindings").EnumerateArray().Any(b => b.GetProperty("type").GetString() == "httpTrigger"))
            .ToDictionary(f => f.GetProperty("name").GetString()!, f => f.GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "httpTrigger"));
        Assert.Equal(httpTriggers.Keys.Order(), variables.GetProperty("httpFunctions").EnumerateArray().Select(n => n.GetString()!).Order());
        var trainingApp = Resource("Microsoft.App/containerApps");
        var trainingContainer = trainingApp.GetProperty("properties").GetProperty("template").GetProperty("containers")[0];
        Assert.Contains("map(filter(variables('httpFunctions'), lambda('f', not(contains(variables('probeFunctions'), lambdaVariables('f'))))), lambda('f', createObject('name', format('AzureWebJobs.{0}.Disabled', lambdaVariables('f')), 'value', 'true')))",
            trainingContainer.GetProperty("env").GetString()!);

        // Probes: liveness on /api/health, readiness on /api/health/ready, each an anonymous GET of the app that stays
        // on there (probeFunctions); applied whenever the real image runs (the first provision's placeholder has no app).
        var probeFunctions = variables.GetProperty("probeFunctions").EnumerateArray().Select(n => n.GetString()!).ToList();
        var probes = variables.GetProperty("trainingProbes").EnumerateArray().ToDictionary(p => p.GetProperty("type").GetString()!, p => p.GetProperty("httpGet").GetProperty("path").GetString()!);
        Assert.Equal("/api/health", probes["Liveness"]);
        Assert.Equal("/api/health/ready", probes["Readiness"]);
        foreach (string path in probes.Values)
        {
            var (function, trigger) = Assert.Single(httpTriggers, f => "/api/" + f.Value.GetProperty("route").GetString() == path);
            Assert.Contains(function, probeFunctions);
            Assert.Equal("Anonymous", trigger.GetProperty("authLevel").GetString());
            Assert.Equal(["get"], trigger.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
        }
        Assert.Equal("[if(empty(parameters('trainingImage')), createArray(), variables('trainingProbes'))]", trainingContainer.GetProperty("probes").GetString());

        // The image comes from the template's registry (admin user off), pulled with the training identity, which
        // holds AcrPull on that registry only.
        var registry = Resource("Microsoft.ContainerRegistry/registries");
        Assert.False(registry.GetProperty("properties").GetProperty("adminUserEnabled").GetBoolean());
        Assert.Contains(registry.GetProperty("sku").GetProperty("name").GetString(), new[] { "Basic", "Standard" });
        var pull = Assert.Single(trainingApp.GetProperty("properties").GetProperty("configuration").GetProperty("registries").EnumerateArray());
        Assert.Matches(@"^\[reference\(resourceId\('Microsoft\.ContainerRegistry/registries', .*\)\.loginServer\]$", pull.GetProperty("server").GetString());
        Assert.Contains("-training-identity", pull.GetProperty("identity").GetString());
        Assert.Equal("7f951dda-4ed3-4680-a7ca-43fe64f8412d", variables.GetProperty("builtInRoles").GetProperty("acrPull").GetString()); // AcrPull
        var acrPull = Assert.Single(resources, r => r.GetProperty("type").GetString() == "Microsoft.Authorization/roleAssignments"
            && r.GetProperty("properties").GetProperty("roleDefinitionId").GetString()!.Contains("variables('builtInRoles').acrPull"));
        Assert.StartsWith("[resourceId('Microsoft.ContainerRegistry/registries'", acrPull.GetProperty("scope").GetString());
        Assert.Contains("-training-identity", acrPull.GetProperty("properties").GetProperty("principalId").GetString());
        Assert.Contains(trainingApp.GetProperty("dependsOn").EnumerateArray(), d => d.GetString()!.Contains("Microsoft.Authorization/roleAssignments"));

        // Private networking: conditional private endpoints for blob, queue and table with their DNS zones, storage
        // closed to the public, the Flex app integrated and the Container Apps environment in the network.
        const string Private = "[parameters('usePrivateNetworking')]";
        Assert.Equal(["blob", "queue", "table"], variables.GetProperty("storageServices").EnumerateArray().Select(s => s.GetString()));
        foreach (var type in new[] { "Microsoft.Network/virtualNetworks", "Microsoft.Network/privateDnsZones", "Microsoft.Network/privateDnsZones/virtualNetworkLinks", "Microsoft.Network/privateEndpoints", "Microsoft.Network/privateEndpoints/privateDnsZoneGroups" })
            Assert.Equal(Private, Resource(type).GetProperty("condition").GetString());
        var endpoints = Resource("Microsoft.Network/privateEndpoints");
        Assert.Equal("[length(variables('storageServices'))]", endpoints.GetProperty("copy").GetProperty("count").GetString());
        var link = Assert.Single(endpoints.GetProperty("properties").GetProperty("privateLinkServiceConnections").EnumerateArray()).GetProperty("properties");
        Assert.Equal(["[variables('storageServices')[copyIndex()]]"], link.GetProperty("groupIds").EnumerateArray().Select(g => g.GetString()));
        Assert.StartsWith("[resourceId('Microsoft.Storage/storageAccounts'", link.GetProperty("privateLinkServiceId").GetString());
        Assert.Contains("privatelink.{0}.{1}", Resource("Microsoft.Network/privateDnsZones").GetProperty("name").GetString());
        var storageProperties = Resource("Microsoft.Storage/storageAccounts").GetProperty("properties");
        Assert.Equal("[if(parameters('usePrivateNetworking'), 'Disabled', 'Enabled')]", storageProperties.GetProperty("publicNetworkAccess").GetString());
        Assert.StartsWith("[if(parameters('usePrivateNetworking'), resourceId('Microsoft.Network/virtualNetworks/subnets'",
            Resource("Microsoft.Web/sites").GetProperty("properties").GetProperty("virtualNetworkSubnetId").GetString());
        Assert.StartsWith("[if(parameters('usePrivateNetworking'), createObject('infrastructureSubnetId', resourceId('Microsoft.Network/virtualNetworks/subnets'",
            Resource("Microsoft.App/managedEnvironments").GetProperty("properties").GetProperty("vnetConfiguration").GetString());

        // Versioning and soft delete (models above all: an overwritten or deleted version can be brought back).
        var blobService = Resource("Microsoft.Storage/storageAccounts/blobServices").GetProperty("properties");
        Assert.True(blobService.GetProperty("isVersioningEnabled").GetBoolean());
        foreach (var policy in new[] { "deleteRetentionPolicy", "containerDeleteRetentionPolicy" })
        {
            Assert.True(blobService.GetProperty(policy).GetProperty("enabled").GetBoolean(), policy);
            Assert.InRange(blobService.GetProperty(policy).GetProperty("days").GetInt32(), 7, 365);
        }

        // Two identities, one per app.
        Assert.Equal(2, resources.Count(r => r.GetProperty("type").GetString() == "Microsoft.ManagedIdentity/userAssignedIdentities"));
        static string IdentityOf(JsonElement app) => app.GetProperty("identity").GetProperty("userAssignedIdentities").EnumerateObject().Single().Name;
        Assert.Contains("-front-identity", IdentityOf(Resource("Microsoft.Web/sites")));
        Assert.Contains("-training-identity", IdentityOf(trainingApp));

        // Least privilege, read from the grant table the role assignments are made from.
        var roles = variables.GetProperty("builtInRoles");
        Assert.Equal("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", roles.GetProperty("blobReader").GetString()); // Storage Blob Data Reader
        Assert.All(variables.GetProperty("accountGrants").EnumerateArray(), // no blob role on the whole account
            g => Assert.Contains(g.GetProperty("role").GetString(), new[] { "queueContributor", "tableContributor" }));
        var grants = variables.GetProperty("blobGrants").EnumerateArray().Select(g => (
            App: g.GetProperty("app").GetString()!, Container: g.GetProperty("container").GetString()!, Role: g.GetProperty("role").GetString()!,
            PathLike: g.TryGetProperty("pathLike", out var p) ? p.GetString() : null)).ToList();
        foreach (var grant in grants.Where(g => StorageLayout.Containers.Contains(g.Container)))
        {
            // Nobody may delete data; the front app writes data blobs only through path-limited requester grants.
            Assert.True(grant.Role is "blobReader" or "writer" or "requester", $"{grant}: a role that can delete");
            if (grant.App == "front") Assert.True(grant.Role == "blobReader" || (grant.Role == "requester" && grant.PathLike is { Length: > 0 }), $"{grant}");
            if (grant.Role == "requester") Assert.NotNull(grant.PathLike);
        }
        Assert.Contains(("front", "models", "blobReader", (string?)null), grants);
        Assert.Contains(("front", "checkpoints", "blobReader", (string?)null), grants);
        Assert.Contains(("front", "models", "requester", "*/latest.json"), grants); // promote and rollback
        Assert.Contains(("front", "checkpoints", "requester", "*/cancel"), grants); // cancel markers
        Assert.Contains(("front", "training-images", "requester", "*"), grants); // the upload endpoint (DatasetUpload)
        foreach (var container in new[] { StorageLayout.DatasetsContainer, StorageLayout.CheckpointsContainer, StorageLayout.ModelsContainer })
            Assert.Equal(["training"], grants.Where(g => g.Container == container && g.Role == "writer").Select(g => g.App));
        // The front app starts runs in the training app's hub, and a durable client makes sure the hub exists before each
        // start (its lease and app-lease containers and lease blobs): it needs to write there, not only read.
        foreach (string hubContainer in new[] { "-leases", "-applease" }) // the compiled names: format('{0}-leases', toLower(variables('pipelineHub')))
            Assert.Contains(grants, g => g is { App: "front", Role: "blobContributor" } && g.Container.Contains($"{hubContainer}', toLower(variables('pipelineHub'))"));
        // No role lets an app create containers (all are made by the template; the code takes the 403 as made).
        var roleDefinitions = resources.Where(r => r.GetProperty("type").GetString() == "Microsoft.Authorization/roleDefinitions").ToList();
        Assert.NotEmpty(roleDefinitions); // the checks below look at something
        foreach (var definition in roleDefinitions)
            Assert.Empty(definition.GetProperty("properties").GetProperty("permissions")[0].GetProperty("actions").EnumerateArray());
        // Lifecycle rules: at most 10 prefixes each (Azure's limit).
        var rules = Resource("Microsoft.Storage/storageAccounts/managementPolicies").GetProperty("properties").GetProperty("policy").GetProperty("rules").EnumerateArray().ToList();
        Assert.Equal(2, rules.Count);
        Assert.InRange(rules[0].GetProperty("definition").GetProperty("filters").GetProperty("prefixMatch").GetArrayLength(), 1, 10);
        Assert.InRange(variables.GetProperty("hostContainers").GetArrayLength(), 1, 10);
        Assert.Contains("variables('hostContainers')", rules[1].GetProperty("definition").GetProperty("filters").GetProperty("prefixMatch").GetString());
        foreach (var definition in roleDefinitions)
        {
            var actions = definition.GetProperty("properties").GetProperty("permissions")[0].GetProperty("dataActions").EnumerateArray().Select(a => a.GetString()!).ToList();
            Assert.DoesNotContain(actions, a => a.EndsWith("/delete", StringComparison.Ordinal) || a.Contains('*'));
        }
        var blobAccess = resources.Single(r => r.TryGetProperty("copy", out var copy) && copy.GetProperty("name").GetString() == "blobAccess");
        Assert.Contains("StringLike", blobAccess.GetProperty("properties").GetProperty("condition").GetString());
    }
}
