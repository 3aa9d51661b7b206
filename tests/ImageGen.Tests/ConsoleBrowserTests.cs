using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using ImageGen.Cli.Hosting;
using ImageGen.Pipeline.Storage;
using PuppeteerSharp;

namespace ImageGen.Tests;

/// <summary>
/// Debian's Chromium, headless, driven with PuppeteerSharp (no browser download: it runs the system's). Installs the
/// chromium package with apt-get when it is missing and this runs as root, and axe-core from tools/browser with npm
/// ci, as the build installs Azurite.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string Chromium = "/usr/bin/chromium";
    public PipelineHostFixture Pipeline { get; } = new();
    public IBrowser Browser { get; private set; } = null!;
    public string AxeScript { get; private set; } = null!;
    /// <summary>Screenshots of each state, the tests' artifacts: out/console/ (ignored by git).</summary>
    public string Screenshots { get; } = Path.Combine(AzuriteFixture.RepoRoot(), "out", "console");

    public async Task InitializeAsync()
    {
        EnsureChromium();
        AxeScript = await File.ReadAllTextAsync(EnsureAxe());
        Directory.CreateDirectory(Screenshots);
        Browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            Headless = true, ExecutablePath = Chromium, Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        await Pipeline.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Browser.CloseAsync();
        await Pipeline.DisposeAsync();
    }

    private static void EnsureChromium()
    {
        if (File.Exists(Chromium)) return;
        if (Environment.UserName != "root")
            throw new InvalidOperationException($"{Chromium} is missing: install Debian's chromium package (sudo apt-get install chromium) for the browser tests");
        // Install first from the package lists there are; update them only if that fails.
        if (Run("apt-get", "install", "-y", "-qq", "chromium") != 0 && (Run("apt-get", "update", "-qq") != 0 || Run("apt-get", "install", "-y", "-qq", "chromium") != 0))
            throw new InvalidOperationException("apt-get install chromium failed; install it yourself for the browser tests");
    }

    private static string EnsureAxe()
    {
        string folder = Path.Combine(AzuriteFixture.RepoRoot(), "tools", "browser");
        string script = Path.Combine(folder, "node_modules", "axe-core", "axe.min.js");
        if (!File.Exists(script) && Run("npm", "ci", "--prefix", folder, "--no-audit", "--no-fund", "--loglevel=error") != 0)
            throw new InvalidOperationException($"npm ci --prefix {folder} failed: axe-core is needed for the accessibility checks");
        return script;
    }

    private static int Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(start)!;
        process.WaitForExit();
        return process.ExitCode;
    }
}

/// <summary>The web console at /api/ui, in a real browser, against the real local host (Azurite, durable pipeline, training).</summary>
public class ConsoleBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(180);
    private string Url => fixture.Pipeline.Host.Addresses.First() + "/api/ui";

    /// <summary>A page that records every console error and uncaught exception.</summary>
    private async Task<(IPage page, List<string> errors)> OpenAsync(int width = 1280, int height = 900)
    {
        var page = await fixture.Browser.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, e) => { if (e.Message.Type == ConsoleType.Error) errors.Add($"{e.Message.Text} ({e.Message.Location?.URL})"); };
        page.PageError += (_, e) => errors.Add(e.Message);
        await page.SetViewportAsync(new ViewPortOptions { Width = width, Height = height });
        await page.GoToAsync(Url, WaitUntilNavigation.Networkidle0);
        return (page, errors);
    }

    private Task ShotAsync(IPage page, string name) =>
        page.ScreenshotAsync(Path.Combine(fixture.Screenshots, name + ".png"), new ScreenshotOptions { FullPage = true });

    private static Task SetDatasetAsync(IPage page, string dataset) =>
        page.EvaluateFunctionAsync("name => { const d = document.getElementById('dataset'); d.value = name; d.dispatchEvent(new Event('change')); }", dataset);

    /// <summary>Waits for a condition in the page; on timeout says what the page showed (its message, stage and figures).</summary>
    private static async Task WaitForAsync(IPage page, string predicate, TimeSpan? timeout = null)
    {
        try { await page.WaitForFunctionAsync(predicate, new WaitForFunctionOptions { Timeout = (int)(timeout ?? RunTimeout).TotalMilliseconds, PollingInterval = 200 }); }
        catch (WaitTaskTimeoutException e)
        {
            string shown = await page.EvaluateExpressionAsync<string>(
                "['message', 'stage', 'figures', 'uploaded', 'generated'].map(id => id + ': ' + document.getElementById(id).textContent).join(' | ')");
            throw new TimeoutException($"{e.Message} waiting for {predicate}; the page shows {shown}", e);
        }
    }

    /// <summary>Focuses a field and replaces its text from the keyboard (select all, then type).</summary>
    private static async Task TypeIntoAsync(IPage page, string selector, string text)
    {
        await page.FocusAsync(selector);
        await page.Keyboard.DownAsync("Control");
        await page.Keyboard.PressAsync("a");
        await page.Keyboard.UpAsync("Control");
        await page.Keyboard.TypeAsync(text);
    }

    private static Task<string> TextAsync(IPage page, string selector) => page.EvaluateFunctionAsync<string>("s => document.querySelector(s).textContent", selector);

    /// <summary>axe-core's automated checks: the violations of serious or critical impact, as "rule: help (n nodes)".</summary>
    private async Task<List<string>> SeriousViolationsAsync(IPage page)
    {
        await page.AddScriptTagAsync(new AddTagOptions { Content = fixture.AxeScript });
        var violations = await page.EvaluateFunctionAsync<JsonElement>(
            "async () => (await axe.run(document)).violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }))");
        return violations.EnumerateArray()
            .Where(v => v.GetProperty("impact").GetString() is "serious" or "critical")
            .Select(v => $"{v.GetProperty("id").GetString()}: {v.GetProperty("help").GetString()} ({v.GetProperty("nodes").GetInt32()} nodes)").ToList();
    }

    [Fact]
    public async Task The_console_loads_without_errors_passes_axe_at_desktop_and_phone_width_and_works_from_the_keyboard()
    {
        var (page, errors) = await OpenAsync();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        Assert.Equal([], await SeriousViolationsAsync(page));
        await ShotAsync(page, "console-desktop");

        var (phone, phoneErrors) = await OpenAsync(width: 375, height: 740);
        Assert.Empty(await SeriousViolationsAsync(phone));
        // Nothing wider than the phone's screen: no sideways scrolling.
        Assert.True(await phone.EvaluateExpressionAsync<int>("document.documentElement.scrollWidth") <= 375, "the console scrolls sideways at phone width");
        await ShotAsync(phone, "console-phone");
        Assert.True(phoneErrors.Count == 0, string.Join("\n", phoneErrors));

        // Tab order from the top: the key, the dataset, Refresh; every control is reachable without a mouse.
        var focused = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            focused.Add(await page.EvaluateExpressionAsync<string>("document.activeElement.id"));
        }
        Assert.Equal(["key", "dataset", "refresh"], focused);
        await page.CloseAsync();
        await phone.CloseAsync();
    }

    [Fact]
    public async Task Upload_through_the_page_lands_in_training_images_starts_a_run_whose_progress_moves_and_cancel_stops_it()
    {
        const string dataset = "browser-upload";
        using var files = new TempFolder();
        var paths = new List<string> { files.File(StorageLayout.OptionsFile) };
        await File.WriteAllTextAsync(paths[0], Drops.FastOptions + ", \"maxSteps\": 100000}");
        for (int i = 0; i < 24; i++)
        {
            paths.Add(files.File($"img{i:D2}.png"));
            await File.WriteAllBytesAsync(paths[^1], Drops.Png(i));
        }
        byte[] png = Drops.Png(99);
        paths.Add(files.File("broken.png"));
        await File.WriteAllBytesAsync(paths[^1], png[..(png.Length / 2)]);

        var (page, errors) = await OpenAsync();
        await SetDatasetAsync(page, dataset);
        await (await page.QuerySelectorAsync("#files")).UploadFileAsync([.. paths]);
        await WaitForAsync(page, "() => document.getElementById('uploaded').textContent.includes('stored in')", TimeSpan.FromSeconds(60));
        Assert.StartsWith("25 of 26 files stored in browser-upload", await TextAsync(page, "#uploaded"));
        Assert.Contains("broken.png: truncated image", await TextAsync(page, "#rejected"));
        var stored = new List<string>();
        await foreach (var blob in fixture.Pipeline.Azurite.Client().GetBlobContainerClient(StorageLayout.TrainingImagesContainer).GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, dataset + "/", default))
            stored.Add(blob.Name);
        Assert.Equal(25, stored.Count);
        Assert.Contains($"{dataset}/{StorageLayout.OptionsFile}", stored);
        await ShotAsync(page, "console-uploaded");

        // The run the upload started: the progress view moves while it trains.
        await WaitForAsync(page, "() => /step \\d+ of/.test(document.getElementById('figures').textContent)");
        string first = await TextAsync(page, "#figures");
        await WaitForAsync(page, $"() => document.getElementById('figures').textContent !== {JsonSerializer.Serialize(first)}", TimeSpan.FromSeconds(60));
        Assert.Matches(@"step \d+ of \d+", await TextAsync(page, "#figures"));
        await WaitForAsync(page, "() => document.getElementById('chart').getAttribute('aria-label').startsWith('loss chart from step')", TimeSpan.FromSeconds(60));
        await ShotAsync(page, "console-training");

        await WaitForAsync(page, "() => !document.getElementById('cancel').disabled", TimeSpan.FromSeconds(30));
        await page.ClickAsync("#cancel");
        await WaitForAsync(page, "() => document.getElementById('stage').textContent.includes('cancelled (not running)')");
        await ShotAsync(page, "console-cancelled");
        Assert.Null(await Drops.LatestAsync(fixture.Pipeline.Azurite.Client(), dataset));
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        await page.CloseAsync();
    }

    /// <summary>
    /// Switching datasets while the first one's answer is still on its way shows the second alone: its versions, its
    /// classes and its grid, however late the first answer lands. The API is answered in the browser (request
    /// interception), the first dataset's models only once the second has rendered. A key given as ?code= is kept and
    /// leaves the address.
    /// </summary>
    [Fact]
    public async Task A_late_answer_for_the_dataset_switched_away_from_is_not_shown()
    {
        var page = await fixture.Browser.NewPageAsync();
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>(); // added to from the browser's event threads
        page.PageError += (_, e) => errors.Enqueue(e.Message);
        await page.SetRequestInterceptionAsync(true);
        // The page's handling of race-a's models answer is over once a task queued after its body was read has run.
        await page.EvaluateExpressionOnNewDocumentAsync("""
            (() => {
              const fetchOriginal = window.fetch;
              window.fetch = async (...args) => {
                const response = await fetchOriginal(...args);
                if (String(args[0]).includes('race-a/models')) {
                  const json = response.json.bind(response);
                  response.json = async () => { const value = await json(); setTimeout(() => { window.raceALanded = true; }, 0); return value; };
                }
                return response;
              };
            })()
            """);
        var releaseRaceA = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        byte[] png = Drops.Png(1);
        page.Request += async (_, e) =>
        {
            string path = new Uri(e.Request.Url).AbsolutePath;
            string? json = path switch
            {
                // race-b first: the page opens on the first dataset, and race-a's answer must be asked for only by the switch.
                "/api/datasets" => """{"datasets":[{"name":"race-b","latestVersion":"v0002"},{"name":"race-a","latestVersion":"v0001"}]}""",
                "/api/datasets/race-a/models" => """{"latestVersion":"v0001","models":[{"version":"v0001","latest":true,"steps":10,"classes":["cat","dog"]}]}""",
                "/api/datasets/race-b/models" => """{"latestVersion":"v0002","models":[{"version":"v0002","latest":true,"steps":20}]}""",
                _ when path.EndsWith("/training", StringComparison.Ordinal) => """{"running":false,"status":{"state":"published"}}""",
                _ => null,
            };
            // An event handler is async void: anything it throws would end the test process, so nothing may escape it.
            try
            {
                if (path == "/api/datasets/race-a/models") await Task.WhenAny(releaseRaceA.Task, Task.Delay(TimeSpan.FromSeconds(60)));
                if (json is not null) await e.Request.RespondAsync(new ResponseData { Status = HttpStatusCode.OK, ContentType = "application/json", Body = json });
                else if (path.EndsWith("/samples", StringComparison.Ordinal)) await e.Request.RespondAsync(new ResponseData { Status = HttpStatusCode.OK, ContentType = "image/png", BodyData = png });
                else await e.Request.ContinueAsync();
            }
            catch (Exception failure) { errors.Enqueue($"answering {path}: {failure.Message}"); } // the page closed, or the browser went away
        };
        try
        {
            await page.GoToAsync(Url + "?code=secret-key", WaitUntilNavigation.Networkidle0);
            Assert.Equal(Url, page.Url);
            Assert.Equal("secret-key", await page.EvaluateExpressionAsync<string>("sessionStorage.getItem('imagegen-key')"));

            await SetDatasetAsync(page, "race-a");
            await SetDatasetAsync(page, "race-b");
            await WaitForAsync(page, "() => !document.getElementById('latest-grid').hidden", TimeSpan.FromSeconds(10));
            Assert.False(await page.EvaluateExpressionAsync<bool>("window.raceALanded === true"));
            releaseRaceA.SetResult(); // race-a's answer lands now, after race-b's
            await WaitForAsync(page, "() => window.raceALanded === true", TimeSpan.FromSeconds(30));
            Assert.Equal(["v0002"], await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#versions tr')].map(r => r.cells[0].textContent)"));
            Assert.StartsWith("race-b v0002", await page.EvaluateExpressionAsync<string>("document.getElementById('latest-grid').alt"));
            Assert.True(await page.EvaluateExpressionAsync<bool>("document.getElementById('g-class-label').hidden"), "race-a's classes are offered for race-b");
            Assert.StartsWith("race-b:", await TextAsync(page, "#stage"));
            Assert.True(errors.IsEmpty, string.Join("\n", errors));
        }
        finally
        {
            releaseRaceA.TrySetResult(); // never left holding a request
            await page.CloseAsync();
        }
    }

    [Fact]
    public async Task A_class_conditional_dataset_offers_its_classes_and_captions_each_image_with_its_class()
    {
        const string dataset = "browser-classes";
        var storage = fixture.Pipeline.Azurite.Client();
        await Drops.UploadOptionsAsync(storage, dataset, ", \"maxSteps\": 20");
        for (int i = 0; i < 16; i++) await Drops.UploadAsync(storage, dataset, $"{(i % 4 == 0 ? "few" : "many")}/{i:D2}.png", Drops.Png(i));
        await Drops.WaitForVersionAsync(storage, dataset, "v0001", RunTimeout);

        var (page, errors) = await OpenAsync();
        await SetDatasetAsync(page, dataset);
        await WaitForAsync(page, "() => !document.getElementById('g-class-label').hidden", TimeSpan.FromSeconds(30));
        // Each class with its share of the training images (4 of 16 and 12 of 16), which is how often a seed draws it.
        Assert.Equal(["each seed's own", "few (25%)", "many (75%)"], await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#g-class option')].map(o => o.textContent)"));
        await page.SelectAsync("#g-class", "few");
        await TypeIntoAsync(page, "#g-count", "3");
        await page.ClickAsync("#generate button");
        await WaitForAsync(page, "() => document.querySelectorAll('#images img').length === 3", TimeSpan.FromSeconds(30));
        Assert.All(await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#images figcaption')].map(c => c.textContent)"),
            caption => Assert.EndsWith(" · few", caption));
        Assert.EndsWith("classes few, few, few", await TextAsync(page, "#generated"));
        await ShotAsync(page, "console-classes");
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        await page.CloseAsync();
    }

    [Fact]
    public async Task Generate_shows_images_that_are_not_blank_with_the_seeds_the_api_gives_and_opens_one_at_full_size()
    {
        const string dataset = "browser-generate";
        var storage = fixture.Pipeline.Azurite.Client();
        await Drops.UploadOptionsAsync(storage, dataset, ", \"maxSteps\": 40");
        await Drops.UploadImagesAsync(storage, dataset, 0, 32);
        await Drops.WaitForVersionAsync(storage, dataset, "v0001", RunTimeout);

        var (page, errors) = await OpenAsync();
        await SetDatasetAsync(page, dataset);
        await WaitForAsync(page, "() => document.querySelectorAll('#versions tr').length === 1", TimeSpan.FromSeconds(30));
        // From the keyboard: type in the form and press Enter.
        await TypeIntoAsync(page, "#g-seed", "5");
        await TypeIntoAsync(page, "#g-count", "4");
        await page.Keyboard.PressAsync("Enter");
        await WaitForAsync(page, "() => document.querySelectorAll('#images img').length === 4", TimeSpan.FromSeconds(30));

        using var http = new HttpClient();
        var api = await http.GetAsync($"{fixture.Pipeline.Host.Addresses.First()}/api/datasets/{dataset}/samples?seed=5&count=4&format=json");
        Assert.Equal(HttpStatusCode.OK, api.StatusCode);
        string seeds = api.Headers.GetValues("X-Seeds").Single();
        Assert.Equal($"model v0001, seeds {seeds}", await TextAsync(page, "#generated"));
        var names = JsonDocument.Parse(await api.Content.ReadAsStringAsync()).RootElement.GetProperty("names").EnumerateArray().Select(n => n.GetString()![..^4]);
        Assert.Equal(names, await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#images figcaption')].map(c => c.textContent)"));
        int[] distinctLevels = await page.EvaluateExpressionAsync<int[]>(@"Promise.all([...document.querySelectorAll('#images img')].map(async img => {
            await img.decode();
            const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
            const g = c.getContext('2d'); g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data, levels = new Set();
            for (let i = 0; i < d.length; i += 4) levels.add(d[i]);
            return levels.size; }))");
        Assert.All(distinctLevels, n => Assert.True(n > 8, $"an image has only {n} grey levels: blank"));
        await ShotAsync(page, "console-generated");

        await page.FocusAsync("#images button");
        await page.Keyboard.PressAsync("Enter");
        await WaitForAsync(page, "() => document.getElementById('preview').open", TimeSpan.FromSeconds(10));
        Assert.Equal($"v0001 · {names.First()}", await TextAsync(page, "#preview-title"));
        Assert.True(await page.EvaluateExpressionAsync<bool>("document.querySelector('#preview img').getBoundingClientRect().width >= 256"));
        await ShotAsync(page, "console-full-size");
        await page.Keyboard.PressAsync("Escape");
        Assert.False(await page.EvaluateExpressionAsync<bool>("document.getElementById('preview').open"));
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        await page.CloseAsync();
    }
}
