using System.IO.Compression;
using ImageGen.Core.Data;
using SkiaSharp;
using TorchSharp;

namespace ImageGen.Tests;

public class DataTests
{
    public DataTests() => TestImages.EnsureRuntime();

    [Fact]
    public void Each_kind_of_bad_input_is_rejected_with_its_reason_while_the_good_images_beside_it_are_packed()
    {
        using var input = new TempFolder();
        using var output = new TempFolder();
        using var shape = TestImages.Shape(1, 40);
        var png = TestImages.Encode(shape, SKEncodedImageFormat.Png);
        File.WriteAllBytes(input.File("good.png"), png);
        File.WriteAllBytes(input.File("good.jpg"), TestImages.Encode(shape, SKEncodedImageFormat.Jpeg));
        File.WriteAllBytes(input.File("good.webp"), TestImages.Encode(shape, SKEncodedImageFormat.Webp));
        File.WriteAllBytes(input.File("good.bmp"), TestImages.Bmp(shape));
        Directory.CreateDirectory(input.File("nested"));
        File.WriteAllBytes(input.File("nested/good.gif"), TestImages.Gif());
        using var wide = new SKBitmap(300, 20);
        File.WriteAllBytes(input.File("wide.png"), TestImages.Encode(wide, SKEncodedImageFormat.Png));

        File.WriteAllBytes(input.File("empty.png"), []);
        File.WriteAllBytes(input.File("truncated.png"), png[..(png.Length / 2)]);
        File.WriteAllText(input.File("notes.png"), "this is text, not an image");
        File.WriteAllBytes(input.File("noise.jpg"), Enumerable.Range(0, 500).Select(i => (byte)(i * 37 % 251)).ToArray());
        File.WriteAllBytes(input.File("bomb.png"), TestImages.PngHeaderOnly(50000, 50000));
        File.WriteAllBytes(input.File("icon.ico"), TestImages.Ico(TestImages.Encode(shape, SKEncodedImageFormat.Png), 40));

        DatasetManifest manifest;
        using (var packer = new DatasetPacker(output.Path, 32, 1, new DecodeLimits { MaxSide = 256 }))
        {
            packer.AddFolder(input.Path);
            manifest = packer.Finish();
        }
        Assert.Equal(new[] { "good.bmp", "good.jpg", "good.png", "good.webp", "nested/good.gif" }, manifest.Sources);
        var reasons = manifest.Rejected.ToDictionary(r => r.Name, r => r.Reason);
        Assert.Equal(7, reasons.Count);
        Assert.Contains("empty", reasons["empty.png"]);
        Assert.Contains("truncated", reasons["truncated.png"]);
        Assert.Contains("not a recognised image", reasons["notes.png"]);
        Assert.Contains("not a recognised image", reasons["noise.jpg"]);
        Assert.Contains("50000x50000", reasons["bomb.png"]);
        Assert.Contains("256-pixel limit", reasons["bomb.png"]);
        Assert.Contains("300x20", reasons["wide.png"]);
        Assert.Contains("not supported", reasons["icon.ico"]);

        // The manifest on disk says the same, and the packed pixels read back as a training set.
        var onDisk = DatasetManifest.Read(output.Path);
        Assert.Equal(manifest.Sources, onDisk.Sources);
        Assert.Equal(7, onDisk.Rejected.Count);
        using var data = DatasetLoader.ReadShards(output.Path);
        Assert.Equal(5, data.Count);
        var expected = ImageDecoder.Decode(png, 32, 1).Pixels!;
        Assert.Equal(expected, data.Pixels[2].data<byte>().ToArray()); // good.png is third in ordinal order
    }

    /// <summary>Distinct packed pixels for image i (the same i, the same pixels).</summary>
    private static byte[] Pixels(int i)
    {
        var pixels = new byte[32 * 32];
        new Random(i).NextBytes(pixels);
        return pixels;
    }

    private static DatasetManifest PackClasses(string folder, int big, int small, double holdOut, bool twins = false)
    {
        using var packer = new DatasetPacker(folder, 32, 1);
        for (int i = 0; i < big; i++) packer.AddPixels($"big/{i:D4}.png", Pixels(i));
        for (int i = 0; i < small; i++) packer.AddPixels($"small/{i:D4}.png", Pixels(10_000 + i));
        if (twins)
            foreach (int i in Enumerable.Range(0, 20))
                packer.AddPixels($"big/twin-{i:D2}.png", Pixels(i)); // the same pixels as big/{i}
        return packer.Finish(holdOut);
    }

    [Fact]
    public void Ingest_holds_out_a_share_of_each_class_by_content_so_the_choice_stays_put_as_the_drop_grows()
    {
        using var first = new TempFolder();
        var manifest = PackClasses(first.Path, big: 250, small: 9, holdOut: 0.1, twins: true);
        var heldNames = manifest.HeldOut.Select(i => manifest.Sources[i]).ToList();
        // About a tenth of the big class, at most twice that; the 9-image class keeps every image to learn from.
        Assert.InRange(heldNames.Count, 10, 54);
        Assert.All(heldNames, name => Assert.StartsWith("big/", name));
        Assert.Equal(manifest.HeldOut.Order(), manifest.HeldOut);
        // Identical images share their fate: a twin in training would make the other a near-copy of it.
        foreach (int i in Enumerable.Range(0, 20))
            Assert.Equal(heldNames.Contains($"big/{i:D4}.png"), heldNames.Contains($"big/twin-{i:D2}.png"));

        // Training reads every other image, with its label; the held-out images read back on their own.
        using (var training = DatasetLoader.ReadShards(first.Path))
        using (var heldOut = DatasetLoader.ReadHeldOut(first.Path))
        {
            Assert.Equal(manifest.Count - heldNames.Count, training.Count);
            Assert.Contains($"({heldNames.Count} more held out)", training.Description);
            Assert.Equal(9, training.ClassSizes()[manifest.Classes.IndexOf("small")]);
            Assert.NotNull(heldOut);
            Assert.Equal(heldNames.Count, heldOut.Count);
            int firstHeld = int.Parse(Path.GetFileNameWithoutExtension(heldNames[0]).Replace("twin-", ""));
            Assert.Equal(Pixels(firstHeld), heldOut.Pixels[0].data<byte>().ToArray());
            var trainingPixels = Enumerable.Range(0, training.Count).Select(i => Convert.ToHexString(training.Pixels[i].data<byte>().ToArray())).ToHashSet();
            Assert.DoesNotContain(Convert.ToHexString(Pixels(firstHeld)), trainingPixels);
            using var limited = DatasetLoader.ReadShards(first.Path, limit: 30);
            Assert.Equal(30, limited.Count);
        }

        // More images later: every image held out before is held out again.
        using var grown = new TempFolder();
        var more = PackClasses(grown.Path, big: 400, small: 9, holdOut: 0.1);
        var heldAgain = more.HeldOut.Select(i => more.Sources[i]).ToHashSet();
        Assert.All(heldNames.Where(n => !n.Contains("twin")), name => Assert.Contains(name, heldAgain));
        Assert.True(heldAgain.Count > heldNames.Count(n => !n.Contains("twin")));

        // Nothing is held out from a drop under the minimum, nor where the share is 0 (the CLI's packing).
        using var small = new TempFolder();
        Assert.Empty(PackClasses(small.Path, big: DatasetHoldOut.MinImages - 10, small: 9, holdOut: 0.1).HeldOut);
        using var none = new TempFolder();
        Assert.Empty(PackClasses(none.Path, big: 250, small: 9, holdOut: 0).HeldOut);
        Assert.Null(DatasetLoader.ReadHeldOut(none.Path));
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetHoldOut.Choose([1, 2], [], 0.6));
    }

    [Fact]
    public void At_most_a_thousand_images_are_held_out_however_large_the_drop()
    {
        var keys = Enumerable.Range(0, 30_000).Select(i => DatasetHoldOut.Key(BitConverter.GetBytes(i))).ToList();
        var chosen = DatasetHoldOut.Choose(keys, [], 0.1);
        Assert.Equal(DatasetHoldOut.MaxImages, chosen.Count);
        ulong highestChosen = chosen.Max(i => keys[i]);
        Assert.All(Enumerable.Range(0, keys.Count).Except(chosen), i => Assert.True(keys[i] > highestChosen)); // the lowest keys
    }

    /// <summary>
    /// Shards are read block by block into one tensor: past a shard's end and across blocks every image keeps its pixels,
    /// its label and its place, and held-out images are left out of the training set.
    /// </summary>
    [Fact]
    public void Images_read_back_across_shards_and_read_blocks_in_their_order()
    {
        TestImages.EnsureRuntime();
        using var folder = new TempFolder();
        int count = DatasetPacker.ImagesPerShard + 1500;
        static byte[] Image(int i) => [.. Enumerable.Range(0, 3 * 8 * 8).Select(p => (byte)((i * 7 + p * 13 + (i >> 8)) & 0xFF))];
        DatasetManifest manifest;
        using (var packer = new DatasetPacker(folder.Path, 32, 1))
        {
            // 32x32 grey images, each with a pattern of its own index.
            for (int i = 0; i < count; i++)
            {
                var planar = new byte[32 * 32];
                Image(i).CopyTo(planar, 0);
                BitConverter.GetBytes(i).CopyTo(planar, 1020);
                packer.AddPixels($"{(i % 2 == 0 ? "even" : "odd")}/{i:D5}.png", planar);
            }
            manifest = packer.Finish(holdOut: 0.1);
        }
        Assert.Equal(2, manifest.Shards.Count);
        Assert.NotEmpty(manifest.HeldOut);
        using var data = DatasetLoader.ReadShards(folder.Path);
        Assert.Equal(count - manifest.HeldOut.Count, data.Count);
        var expected = Enumerable.Range(0, count).Except(manifest.HeldOut).ToList();
        var pixels = data.Pixels.reshape(data.Count, 32 * 32).data<byte>().ToArray();
        var labels = data.Labels!.data<long>().ToArray();
        for (int row = 0; row < data.Count; row++)
        {
            int index = BitConverter.ToInt32(pixels, row * 1024 + 1020);
            Assert.Equal(expected[row], index);
            Assert.Equal(Image(index), pixels.AsSpan(row * 1024, 3 * 8 * 8).ToArray());
            Assert.Equal(index % 2 == 0 ? 0 : 1, labels[row]); // "even" sorts before "odd"
        }
    }

    /// <summary>
    /// Identical images are never parted, even where a cap cuts between them or a class too small to give any holds a
    /// twin; and at the largest share a class still trains on at least half its images.
    /// </summary>
    [Fact]
    public void Held_out_images_never_leave_a_twin_in_training_and_a_class_keeps_half()
    {
        const ulong step = ulong.MaxValue / 1000;
        // 100 images of one class at share 0.1: 25 keys under the share (cap 20), the 20th and 21st lowest identical.
        var keys = Enumerable.Range(0, 100).Select(i => i < 25 ? (ulong)(i + 1) * step : ulong.MaxValue - (ulong)i).ToList();
        keys[20] = keys[19];
        var chosen = DatasetHoldOut.Choose(keys, [], 0.1);
        Assert.Equal(Enumerable.Range(0, 19), chosen); // the cap took image 19, its twin 20 trains: both train
        keys[20] = 21 * step;
        Assert.Equal(Enumerable.Range(0, 20), DatasetHoldOut.Choose(keys, [], 0.1));

        // A twin in a class of 5 (too small to give any) keeps the other class's copy in training.
        var labels = Enumerable.Range(0, 105).Select(i => i < 100 ? 0 : 1).ToList();
        var withSmallClass = keys.Concat(Enumerable.Range(0, 5).Select(i => ulong.MaxValue - 1000 - (ulong)i)).ToList();
        withSmallClass[104] = keys[3];
        Assert.Equal(Enumerable.Range(0, 20).Where(i => i != 3), DatasetHoldOut.Choose(withSmallClass, labels, 0.1));

        // Share 0.5 with every key under it: half the class, not all of it.
        var allUnder = Enumerable.Range(0, 100).Select(i => (ulong)(i + 1)).ToList();
        Assert.Equal(50, DatasetHoldOut.Choose(allUnder, [], 0.5).Count);
    }

    [Fact]
    public void Image_bomb_is_refused_from_its_header_without_decoding_pixels()
    {
        var bomb = TestImages.PngHeaderOnly(50000, 50000);
        // This thread's allocations only: the decode runs here, and other threads (a fixture's clients) must not count.
        long before = GC.GetAllocatedBytesForCurrentThread();
        var result = ImageDecoder.Decode(bomb, 32, 1);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.False(result.Accepted);
        Assert.Contains("4096-pixel limit per side", result.Rejection);
        Assert.True(allocated < 1_000_000, $"allocated {allocated} bytes while refusing a header");
        var megapixels = ImageDecoder.Decode(TestImages.PngHeaderOnly(4096, 4096), 32, 1);
        Assert.Contains("16000000-pixel limit", megapixels.Rejection);
    }

    [Fact]
    public void Decoding_crops_to_the_centre_resizes_and_converts_channels()
    {
        // Left third red, middle third green, right third blue; the centre crop keeps mostly green.
        using var bitmap = new SKBitmap(90, 30);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.DrawRect(0, 0, 30, 30, new SKPaint { Color = SKColors.Red });
            canvas.DrawRect(30, 0, 30, 30, new SKPaint { Color = SKColors.Lime });
            canvas.DrawRect(60, 0, 30, 30, new SKPaint { Color = SKColors.Blue });
        }
        var rgb = ImageDecoder.Decode(TestImages.Encode(bitmap, SKEncodedImageFormat.Png), 32, 3).Pixels!;
        Assert.Equal(3 * 32 * 32, rgb.Length);
        int centre = 16 * 32 + 16;
        Assert.True(rgb[centre] < 10 && rgb[1024 + centre] > 245 && rgb[2048 + centre] < 10, "centre pixel should be green");
        var gray = ImageDecoder.Decode(TestImages.Encode(bitmap, SKEncodedImageFormat.Png), 32, 1).Pixels!;
        Assert.Equal(32 * 32, gray.Length);
        Assert.InRange(gray[centre], 145, 155); // luma of pure green: 0.587 * 255
    }

    [Fact]
    public void Idx_files_are_read_gzipped_or_not_and_resized_to_the_model_size()
    {
        using var folder = new TempFolder();
        var pixels = Enumerable.Range(0, 3 * 28 * 28).Select(i => (byte)(i % 256)).ToArray();
        var header = new byte[] { 0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28 };
        File.WriteAllBytes(folder.File("raw-idx3-ubyte"), [.. header, .. pixels]);
        using (var gz = new GZipStream(File.Create(folder.File("zipped-idx3-ubyte.gz")), CompressionLevel.Fastest))
            gz.Write([.. header, .. pixels]);

        using var raw = IdxReader.ReadImages(folder.File("raw-idx3-ubyte"));
        using var zipped = IdxReader.ReadImages(folder.File("zipped-idx3-ubyte.gz"));
        Assert.Equal(new long[] { 3, 1, 28, 28 }, raw.Pixels.shape);
        Assert.Equal(pixels, raw.Pixels.data<byte>().ToArray());
        Assert.Equal(pixels, zipped.Pixels.data<byte>().ToArray());
        using var resized = DatasetLoader.Load(folder.File("zipped-idx3-ubyte.gz"), 32, 1);
        Assert.Equal(new long[] { 3, 1, 32, 32 }, resized.Pixels.shape);

        File.WriteAllBytes(folder.File("labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 1, 7]);
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(folder.File("labels-idx1-ubyte")));
        Assert.Contains("0x00000801", e.Message);
    }

    [Fact]
    public void Synthetic_shapes_are_deterministic_for_a_seed()
    {
        using var a = SyntheticShapes.Generate(8, 32, 3, seed: 4);
        using var b = SyntheticShapes.Generate(8, 32, 3, seed: 4);
        using var c = SyntheticShapes.Generate(8, 32, 3, seed: 5);
        Assert.True(a.Pixels.Equals(b.Pixels));
        Assert.False(a.Pixels.Equals(c.Pixels));
    }

    [Fact]
    public void A_folder_with_no_usable_image_is_a_clear_error()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.File("readme.txt"), "no images here");
        var e = Assert.Throws<InvalidDataException>(() => DatasetLoader.Load(folder.Path, 32, 1));
        Assert.Contains("no usable images", e.Message);
        Assert.Contains("readme.txt", e.Message);
    }

    [Fact]
    public async Task A_pixel_budget_never_lets_concurrent_holders_exceed_it_and_runs_an_oversized_request_alone()
    {
        var budget = new PixelBudget(100);
        long held = 0, mostHeld = 0;
        bool oversizedShared = false;
        async Task Hold(long pixels, int seed)
        {
            var random = new Random(seed);
            for (int round = 0; round < 20; round++)
            {
                long weight = pixels > 0 ? pixels : random.Next(1, 41);
                using (await budget.AcquireAsync(weight))
                {
                    long charged = Math.Min(weight, budget.Capacity);
                    long now = Interlocked.Add(ref held, charged);
                    if (charged == budget.Capacity && now != charged) oversizedShared = true;
                    InterlockedMax(ref mostHeld, now);
                    await Task.Delay(random.Next(0, 3));
                    Interlocked.Add(ref held, -charged);
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 24).Select(i => Task.Run(() => Hold(i == 0 ? 500 : 0, i))));
        Assert.InRange(mostHeld, 1, 100); // never more than the budget
        Assert.Equal(budget.Capacity, budget.Peak);
        Assert.False(oversizedShared, "a request over the whole budget ran beside others");

        // Holders that fit run together at once; one that does not waits until enough is given back.
        using (await budget.AcquireAsync(30))
        {
            var together = budget.AcquireAsync(40);
            Assert.True(together.IsCompletedSuccessfully, "30 and 40 of 100 did not run together");
            var third = budget.AcquireAsync(40);
            Assert.False(third.IsCompleted, "110 of 100 were let in");
            (await together).Dispose();
            (await third).Dispose();
        }

        // A cancelled waiter leaves the queue; the budget still serves the next one.
        var first = await budget.AcquireAsync(80);
        using var cancel = new CancellationTokenSource();
        var waiter = budget.AcquireAsync(50, cancel.Token);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter);
        first.Dispose();
        using var next = await budget.AcquireAsync(100).WaitAsync(TimeSpan.FromSeconds(5));
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen;
        while (value > (seen = Interlocked.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }

    [Fact]
    public async Task Parallel_decodes_hold_no_more_pixels_than_the_packers_budget_and_an_image_over_it_still_decodes()
    {
        using var output = new TempFolder();
        var png = TestImages.Encode(TestImages.Shape(3, 48), SKEncodedImageFormat.Png);
        long imagePixels = 48 * 48;
        foreach (long budget in new[] { 3 * imagePixels, imagePixels / 2 })
        {
            using var packer = new DatasetPacker(output.File($"budget{budget}"), 32, 1, DecodeLimits.Default with { MaxPixelsInFlight = budget });
            var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => packer.DecodeAsync(png))));
            Assert.All(results, r => Assert.True(r.Accepted, r.Rejection));
            Assert.InRange(packer.PixelsInFlight.Peak, 1, budget);
        }
        using var plain = new DatasetPacker(output.File("plain"), 32, 1);
        Assert.Contains("empty", (await plain.DecodeAsync([])).Rejection); // rejected from its header, before waiting for pixels
    }
}
