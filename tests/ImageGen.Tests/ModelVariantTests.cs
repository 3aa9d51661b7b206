using ImageGen.Core.Checkpoints;
using ImageGen.Core.Data;
using ImageGen.Core.Export;
using ImageGen.Core.Metrics;
using ImageGen.Core.Models;
using ImageGen.Core.Sampling;
using ImageGen.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ImageGen.Tests;

/// <summary>Small-data augmentation, the recalibrated moving average, class-conditional models, warm starts and 128 px.</summary>
[Collection(TrainedRunsCollection.Name)]
public class ModelVariantTests(TrainedRuns runs)
{
    [Fact]
    public void Translation_moves_whole_images_by_whole_pixels_and_fills_with_zero()
    {
        torch.manual_seed(3);
        using var images = torch.rand(64, 1, 32, 32) + 0.5; // no zero anywhere before
        using var moved = DiffAugment.Translate(images);
        Assert.Equal(images.shape, moved.shape);
        for (int i = 0; i < 64; i++)
        {
            // Each image is its original shifted by (dy, dx) in [-4, 4]: find the shift that reproduces it.
            bool found = false;
            for (int dy = -4; dy <= 4 && !found; dy++)
                for (int dx = -4; dx <= 4 && !found; dx++)
                {
                    using var expected = torch.zeros(1, 32, 32);
                    int y0 = Math.Max(0, dy), y1 = Math.Min(32, 32 + dy), x0 = Math.Max(0, dx), x1 = Math.Min(32, 32 + dx);
                    expected[.., y0..y1, x0..x1] = images[i][.., (y0 - dy)..(y1 - dy), (x0 - dx)..(x1 - dx)];
                    found = moved[i].eq(expected).all().item<bool>();
                }
            Assert.True(found, $"image {i} is not a whole-pixel shift of its original within 4 pixels");
        }
    }

    [Fact]
    public void Cutout_blanks_one_square_of_half_the_side_and_augmentations_pass_gradients()
    {
        torch.manual_seed(4);
        using var images = (torch.rand(128, 3, 32, 32) + 0.5).requires_grad_();
        using var cut = DiffAugment.Cutout(images);
        using var zeros = cut.eq(0).all(1).sum([1, 2]); // blanked pixels per image
        Assert.True(zeros.max().item<long>() == 256, "a square fully inside the image is 16x16");
        Assert.True(zeros.min().item<long>() >= 64, "at least a quarter of the square stays inside");
        using var all = DiffAugment.Apply(images, Augmentations.Color | Augmentations.Translation | Augmentations.Cutout);
        all.sum().backward();
        Assert.True(images.grad!.abs().sum().item<float>() > 0, "gradients reach the input through every augmentation");
        using var color = DiffAugment.Color(images.detach());
        Assert.False(color.allclose(images.detach()), "colour changes the pixels");
    }

    [Fact]
    public void Ada_applies_each_transformation_to_its_share_of_the_images_and_none_at_probability_zero()
    {
        torch.manual_seed(6);
        using var images = torch.rand(4000, 1, 16, 16) + 0.5; // no zero anywhere, so a cutout square shows
        using var untouched = DiffAugment.Apply(images, Augmentations.Cutout, probability: 0);
        Assert.True(untouched.eq(images).all().item<bool>(), "probability 0 leaves every image as it was");
        using var always = DiffAugment.Apply(images, Augmentations.Cutout, probability: 1);
        using var alwaysCut = always.eq(0).any(dim: 3).any(dim: 2).any(dim: 1);
        Assert.True(alwaysCut.all().item<bool>(), "probability 1 (DiffAugment) cuts every image");
        using var sometimes = DiffAugment.Apply(images, Augmentations.Cutout, probability: 0.3);
        using var cut = sometimes.eq(0).any(dim: 3).any(dim: 2).any(dim: 1);
        double share = cut.to_type(ScalarType.Float32).mean().item<float>();
        Assert.InRange(share, 0.27, 0.33); // 4,000 draws of 0.3: sd 0.007
        using var chosenRestored = torch.where(cut.view(-1, 1, 1, 1), images, sometimes);
        Assert.True(chosenRestored.eq(images).all().item<bool>(), "the images not chosen pass through unchanged");
    }

    [Fact]
    public void Ada_raises_its_probability_while_D_calls_the_reals_real_and_lowers_it_to_zero_when_D_does_not()
    {
        var ada = new AdaptiveAugment();
        double perAdjustment = 64.0 * AdaptiveAugment.Interval / AdaptiveAugment.RampImages;
        using var overfit = torch.ones(64);                     // every real image called real: r = 1 > 0.6
        using var balanced = torch.tensor(new float[] { 1, 1, -1, -1, -1 }); // r = -0.2 < 0.6
        for (int step = 0; step < 10 * AdaptiveAugment.Interval + 1; step++) { ada.Observe(overfit); ada.Step(64); }
        Assert.Equal(10 * perAdjustment, ada.Probability, 12);  // ten adjustments up; the step after the tenth waits for its interval
        for (int step = 0; step < 3; step++) { ada.Observe(balanced); ada.Step(64); }
        // That interval's four steps average r = (64 - 3) / (64 + 15) > 0.6: still up, once.
        Assert.Equal(11 * perAdjustment, ada.Probability, 12);
        for (int step = 0; step < 100 * AdaptiveAugment.Interval; step++) { ada.Observe(balanced); ada.Step(64); }
        Assert.Equal(0, ada.Probability); // down, and clamped at 0
    }

    [Fact]
    public void Cutout_on_the_discriminator_does_not_leak_grey_into_samples()
    {
        using var folder = new TempFolder();
        double SampleGrey(ImageTensorDataset data, Augmentations augment, string name)
        {
            // The fixture's GAN recipe (same spec, steps and seed).
            var run = Trainer.Run(new TrainRequest
            {
                Data = data, Spec = runs.GanSpec, RunFolder = folder.File(name),
                Options = new TrainOptions { MaxSteps = TrainedRuns.GanSteps, BatchSize = 32, Seed = 5, EmaImages = 2_000, Augment = augment },
            });
            using var sampler = ImageSampler.Load(run.CheckpointPath);
            using var samples = sampler.Generate(Seeds.Range(0, 256));
            return GreyShare(samples);
        }
        // The shapes lie on black (-1); cutout's fill is 0 (mid grey). Were only the real images cut out, D would take grey
        // for a sign of a real image and G would learn to paint it. The leak, made on purpose as a control: the real
        // images carry cutout squares and the fakes none. As built, D sees cutout on real and fake alike, and the
        // samples must come out less grey than the control's. Measured (deterministic at any thread count): as built
        // 16.2% grey, the control 18.7%, real images 5.0%.
        torch.manual_seed(11);
        using var cutPixels = DiffAugment.Cutout(ImageTensorDataset.ToUnitRange(runs.Data.Pixels)).add_(1).mul_(127.5).round_().clamp_(0, 255).to_type(ScalarType.Byte);
        using var realOnlyCut = new ImageTensorDataset(cutPixels.clone(), "real images with cutout squares");
        double asBuilt = SampleGrey(runs.Data, Augmentations.Cutout, "cutout"), leaked = SampleGrey(realOnlyCut, Augmentations.None, "leak");
        Assert.True(asBuilt < leaked, $"samples trained with cutout are {asBuilt:P1} grey, those of the leak {leaked:P1}");
    }

    /// <summary>Share of pixels within 0.25 of cutout's fill value (0).</summary>
    private static double GreyShare(Tensor images)
    {
        using var grey = images.abs().lt(0.25).to_type(ScalarType.Float32);
        return grey.mean().item<float>();
    }

    [Fact]
    public void The_moving_average_is_sampled_with_batchnorm_statistics_of_its_own_weights()
    {
        using var sampler = ImageSampler.Load(runs.Gan.CheckpointPath);
        Assert.True(sampler.Averaged);
        var generator = (DcganGenerator)sampler.Generator;
        var spec = generator.Spec;
        // Recalibration's own batch: in eval mode (running statistics) the generator must give what train mode (the
        // batch's statistics) gives, which holds only if the running statistics were measured on these weights.
        var header = sampler.Header;
        var (_, sections) = Checkpoint.Read(runs.Gan.CheckpointPath);
        long imagesSeen = BitConverter.ToInt64(sections[CheckpointSections.GeneratorAverageImages]);
        using var random = new torch.Generator(0x5EED_E3A_0000UL + (ulong)imagesSeen);
        using var z = torch.randn([GeneratorAverage.RecalibrationBatch(spec), spec.LatentSize], generator: random);
        using var inference = torch.no_grad();
        using var evalOutput = generator.forward(z);
        generator.train();
        using var trainOutput = generator.forward(z);
        generator.eval();
        Assert.True((evalOutput - trainOutput).abs().max().item<float>() < 2e-3, "eval-mode output matches the recalibration batch's own statistics");
        Assert.Equal(TrainedRuns.GanSteps, header.Step);
    }

    [Fact]
    public void Class_folders_become_classes_and_images_at_the_top_leave_a_dataset_unlabelled()
    {
        var labelled = DatasetClasses.FromPaths(["shirts/a.png", "shoes/b.png", "shirts/deep/c.png", "clothes.zip:shoes/d.png", "more/bags.tar.gz:x/e.png"]);
        Assert.NotNull(labelled);
        Assert.Equal(["more", "shirts", "shoes"], labelled.Value.Names);
        Assert.Equal([1, 2, 1, 2, 0], labelled.Value.Labels);
        Assert.Null(DatasetClasses.FromPaths(["shirts/a.png", "b.png"]));      // one image at the top: not labelled
        Assert.Null(DatasetClasses.FromPaths(["shirts/a.png", "shirts/b.png"])); // a single class says nothing
        Assert.Null(DatasetClasses.FromPaths(["all.zip:a.png", "all.zip:b.png"]));

        using var folder = new TempFolder();
        foreach (var (name, seed) in new[] { ("cats/1.png", 1), ("cats/2.png", 2), ("dogs/3.png", 3) })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(folder.File(Path.Combine("in", name)))!);
            File.WriteAllBytes(folder.File(Path.Combine("in", name)), TestImages.Encode(TestImages.Shape(seed), SkiaSharp.SKEncodedImageFormat.Png));
        }
        using (var packer = new DatasetPacker(folder.File("shards"), 32, 1))
        {
            packer.AddFolder(folder.File("in"));
            var manifest = packer.Finish();
            Assert.Equal(["cats", "dogs"], manifest.Classes);
            Assert.Equal([0, 0, 1], manifest.Labels);
        }
        using var data = DatasetLoader.ReadShards(folder.File("shards"));
        Assert.Equal(["cats", "dogs"], data.ClassNames);
        Assert.Equal([0L, 0L, 1L], data.Labels!.data<long>().ToArray());
        Assert.Equal("shards shards: 3 images in 2 classes", data.Description);
        // A folder decoded on the fly is described by its own name, not by the temporary shards it was packed into.
        using var decoded = DatasetLoader.Load(folder.File("in"), 32, 1);
        Assert.Equal(["cats", "dogs"], decoded.ClassNames);
        Assert.Equal($"folder {folder.File("in")}: 3 images in 2 classes", decoded.Description);

        // A folder whose name could not be a class (served in an ASCII header, requested comma-separated) is refused by
        // name, image by image, and the other folders' images are kept with their classes.
        foreach (var (name, seed) in new[] { ("café/4.png", 4), ("a,b/5.png", 5) })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(folder.File(Path.Combine("in", name)))!);
            File.WriteAllBytes(folder.File(Path.Combine("in", name)), TestImages.Encode(TestImages.Shape(seed), SkiaSharp.SKEncodedImageFormat.Png));
        }
        using (var packer = new DatasetPacker(folder.File("renamed"), 32, 1))
        {
            packer.AddFolder(folder.File("in"));
            var manifest = packer.Finish();
            Assert.Equal(["cats/1.png", "cats/2.png", "dogs/3.png"], manifest.Sources);
            Assert.Equal(["cats", "dogs"], manifest.Classes);
            Assert.Equal(["a,b/5.png", "café/4.png"], manifest.Rejected.Select(r => r.Name).Order(StringComparer.Ordinal));
            Assert.All(manifest.Rejected, r => Assert.Contains("would be its class, and a class name must be 1-64 letters", r.Reason));
            Assert.Contains("its folder 'café'", manifest.Rejected.Single(r => r.Name == "café/4.png").Reason);
        }
        Assert.Null(DatasetClasses.FolderClassRejection("top.png"));
        Assert.Null(DatasetClasses.FolderClassRejection("Shirts (2024)/a.png"));
        Assert.NotNull(DatasetClasses.FolderClassRejection("archive.zip:日本/6.png"));
        Assert.NotNull(DatasetClasses.FolderClassRejection(new string('x', 65) + "/a.png"));
        // "cats " would be a class that classes=cats (trimmed) could never name.
        Assert.NotNull(DatasetClasses.FolderClassRejection("cats /a.png"));
        Assert.NotNull(DatasetClasses.FolderClassRejection(" cats/a.png"));
        Assert.Null(DatasetClasses.FolderClassRejection("big cats/a.png"));
    }

    [Fact]
    public void A_labels_file_names_the_classes_and_one_that_breaks_the_rules_is_refused_by_name()
    {
        var json = DatasetClasses.ParseLabelsFile("labels.json", """{"a.png": "cat", "sub/b.png": "dog", "c.zip:d.png": " cat "}""");
        Assert.Equal(new Dictionary<string, string> { ["a.png"] = "cat", ["sub/b.png"] = "dog", ["c.zip:d.png"] = "cat" }, json);
        var csv = DatasetClasses.ParseLabelsFile("labels.csv", "file,class\r\na.png,cat\r\nsub\\b.png,dog\n\nodd,name.png,cat\n");
        Assert.Equal(new Dictionary<string, string> { ["a.png"] = "cat", ["sub/b.png"] = "dog", ["odd,name.png"] = "cat" }, csv);
        // A byte-order mark (as Notepad writes) is not part of the first image's name, nor a JSON error.
        Assert.Equal(new Dictionary<string, string> { ["a.png"] = "cat" }, DatasetClasses.ParseLabelsFile("labels.csv", "\uFEFFa.png,cat\n"));
        Assert.Equal(json, DatasetClasses.ParseLabelsFile("labels.json", "\uFEFF" + """{"a.png": "cat", "sub/b.png": "dog", "c.zip:d.png": " cat "}"""));

        foreach (var (file, text, expected) in new[]
                 {
                     ("labels.json", "[1, 2]", "labels.json must be one object of image name to class name"),
                     ("labels.json", "{\"a.png\": 3}", "labels.json: 'a.png' must map to a class name (a string), not Number"),
                     ("labels.json", "{\"a.png\": \"cat,dog\"}", "labels.json: 'a.png': class 'cat,dog' must be 1-64 letters, digits, inner spaces or . _ - ( ) +"),
                     ("labels.json", "{\"a.png\": \"cat\", \"a.png\": \"dog\"}", "labels.json: 'a.png': 'a.png' is labelled twice ('cat' and 'dog')"),
                     ("labels.json", "{not json", "labels.json is not JSON"),
                     ("labels.csv", "a.png,cat\nb.png", "labels.csv: line 2 is not 'image,class'"),
                     ("labels.csv", "a.png,", "labels.csv: line 1: class '' must be"),
                     ("labels.csv", string.Join("\n", Enumerable.Range(0, DatasetClasses.MaxClasses + 1).Select(i => $"{i}.png,c{i}")), "labels.csv names 1001 classes, over the limit of 1000"),
                 })
            Assert.StartsWith(expected, Assert.Throws<InvalidDataException>(() => DatasetClasses.ParseLabelsFile(file, text)).Message);

        using var folder = new TempFolder();
        foreach (var (name, seed) in new[] { ("x/1.png", 1), ("x/2.png", 2), ("y/3.png", 3), ("4.png", 4) })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(folder.File(Path.Combine("in", name)))!);
            File.WriteAllBytes(folder.File(Path.Combine("in", name)), TestImages.Encode(TestImages.Shape(seed), SkiaSharp.SKEncodedImageFormat.Png));
        }
        // The labels file decides over the folders, and an image it does not name is refused by name, the rest kept.
        File.WriteAllText(folder.File("in/labels.csv"), "path,label\nx/1.png,round\nx/2.png,square\n4.png,round\n");
        using (var packer = new DatasetPacker(folder.File("labelled"), 32, 1))
        {
            packer.AddFolder(folder.File("in"));
            var manifest = packer.Finish();
            Assert.Equal(["4.png", "x/1.png", "x/2.png"], manifest.Sources);
            Assert.Equal(["round", "square"], manifest.Classes);
            Assert.Equal([0, 0, 1], manifest.Labels);
            Assert.Equal("labels.csv", manifest.LabelsFile);
            var refused = Assert.Single(manifest.Rejected);
            Assert.Equal(("y/3.png", "labels.csv gives it no class; with a labels file every image needs one"), (refused.Name, refused.Reason));
        }
        // A broken labels file is refused by name and loses no image: the folders decide (here: not every image is in one).
        File.WriteAllText(folder.File("in/labels.csv"), "x/1.png,round,\n");
        using (var packer = new DatasetPacker(folder.File("broken"), 32, 1))
        {
            packer.AddFolder(folder.File("in"));
            var manifest = packer.Finish();
            Assert.Equal(4, manifest.Count);
            Assert.Empty(manifest.Classes);
            Assert.Null(manifest.LabelsFile);
            var refused = Assert.Single(manifest.Rejected);
            Assert.Equal("labels.csv", refused.Name);
            Assert.EndsWith("classes come from the sub-folders instead", refused.Reason);
        }
    }

    [Fact]
    public void A_conditional_gan_draws_the_class_asked_for_and_seeds_and_classes_decide_the_image()
    {
        using var sampler = ImageSampler.Load(runs.ConditionalGan.CheckpointPath);
        Assert.Equal(2, sampler.Spec.Classes);
        Assert.Equal(["plain", "inverted"], sampler.ClassNames);
        var seeds = Seeds.Range(100, 64);
        using var plain = sampler.Generate(seeds, classes: Enumerable.Repeat(0, 64).ToArray());
        using var inverted = sampler.Generate(seeds, classes: Enumerable.Repeat(1, 64).ToArray());
        // Plain shapes lie on black, inverted ones on white: the class alone must flip the mean brightness.
        double plainMean = plain.mean().item<float>(), invertedMean = inverted.mean().item<float>();
        Assert.True(plainMean < -0.3 && invertedMean > 0.3, $"mean brightness: plain {plainMean:0.00}, inverted {invertedMean:0.00}");
        using var again = sampler.Generate(seeds, classes: Enumerable.Repeat(1, 64).ToArray());
        Assert.True(inverted.eq(again).all().item<bool>(), "the same seeds and class give the same images");
        // Without a class, each seed brings its own, and both classes turn up.
        var own = sampler.ClassesFor(seeds);
        Assert.Contains(0, own);
        Assert.Contains(1, own);
        using var unasked = sampler.Generate(seeds);
        using var asked = sampler.Generate(seeds, classes: own);
        Assert.True(unasked.eq(asked).all().item<bool>());
    }

    [Fact]
    public void Samples_without_a_class_draw_each_class_as_often_as_the_training_data_holds_it()
    {
        using var folder = new TempFolder();
        // Three classes of 120, 60 and 20 images (what they show does not matter to the draw).
        using var labels = torch.cat([torch.zeros(120, dtype: ScalarType.Int64), torch.ones(60, dtype: ScalarType.Int64), torch.full(20, 2L, dtype: ScalarType.Int64)]);
        using var data = new ImageTensorDataset(runs.Data.Pixels[..200].clone(), "three unequal classes", labels.clone(), ["many", "some", "few"]);
        var spec = ModelSpec.DefaultFor(ModelKind.Dcgan) with { Ngf = 8, Ndf = 8, LatentSize = 8 };
        var run = Trainer.Run(new TrainRequest
        {
            Data = data, Spec = spec, RunFolder = folder.File("unequal"), Options = new TrainOptions { MaxSteps = 2, BatchSize = 16, Seed = 1 },
        });
        var seeds = Seeds.Range(0, 20_000);
        static double[] Shares(int[] classes) => [.. Enumerable.Range(0, 3).Select(c => classes.Count(x => x == c) / (double)classes.Length)];
        using (var sampler = ImageSampler.Load(run.CheckpointPath))
        {
            Assert.Equal([120, 60, 20], sampler.Header.ClassSizes);
            var shares = Shares(sampler.ClassesFor(seeds));
            Assert.True(Math.Abs(shares[0] - 0.6) < 0.015 && Math.Abs(shares[1] - 0.3) < 0.015 && Math.Abs(shares[2] - 0.1) < 0.015,
                $"drawn shares {string.Join(" / ", shares.Select(x => x.ToString("0.000")))} for data of 0.6 / 0.3 / 0.1");
            // The ONNX file carries the sizes, so the lean build draws the same classes; a malformed count is refused by name.
            using var file = File.OpenRead(run.CheckpointPath);
            using var checkpoint = GeneratorCheckpoint.Load(file);
            using var onnx = OnnxGenerator.Load(OnnxExport.ToBytes(checkpoint));
            Assert.Equal([120, 60, 20], onnx.ClassSizes);
            Assert.Equal(sampler.ClassesFor(seeds), ClassConditioning.FromSeeds(seeds, 3, onnx.ClassSizes));
            var malformed = Assert.Throws<InvalidDataException>(() => OnnxGenerator.Load(OnnxExport.ToBytes(checkpoint.Header with { ClassSizes = [120, 60] }, checkpoint.Generator, checkpoint.Averaged)));
            Assert.Contains(OnnxGenerator.ClassSizesKey, malformed.Message);
            // Metadata that is not the JSON we write, or a spec out of range, is refused naming the key, not a JsonException.
            byte[] Forged(string key, string value)
            {
                var model = Onnx.ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(checkpoint));
                model.MetadataProps.Single(p => p.Key == key).Value = value;
                return Google.Protobuf.MessageExtensions.ToByteArray(model);
            }
            Assert.Contains($"'{OnnxGenerator.ClassesKey}' metadata is not the JSON", Assert.Throws<InvalidDataException>(() => OnnxGenerator.Load(Forged(OnnxGenerator.ClassesKey, "x"))).Message);
            Assert.Contains($"'{OnnxGenerator.SpecKey}' metadata is not the JSON", Assert.Throws<InvalidDataException>(() => OnnxGenerator.Load(Forged(OnnxGenerator.SpecKey, "{"))).Message);
            var wide = System.Text.Json.Nodes.JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(checkpoint.Header.Spec, Core.Models.Json.Compact))!.AsObject();
            wide["ngf"] = 5000;
            Assert.Contains("ngf 5000 is outside", Assert.Throws<InvalidDataException>(() => OnnxGenerator.Load(Forged(OnnxGenerator.SpecKey, wide.ToJsonString()))).Message);
        }

        // A checkpoint saved before sizes were recorded keeps its uniform draw, seed for seed as before (these classes of
        // seeds 0-11 are what a 3-class model drew then), and keeps it when its run resumes.
        var (header, sections) = Checkpoint.Read(run.CheckpointPath);
        string older = folder.File("older");
        Checkpoint.Write(Path.Combine(older, Checkpoint.FileName), header with { ClassSizes = [] }, Checkpoint.SectionsAsRead(sections));
        using (var sampler = ImageSampler.Load(older))
        {
            Assert.Equal([1, 2, 1, 0, 1, 2, 2, 0, 1, 1, 1, 0], sampler.ClassesFor(Seeds.Range(0, 12)));
            Assert.All(Shares(sampler.ClassesFor(seeds)), share => Assert.InRange(share, 0.32, 0.35));
        }
        Trainer.Run(new TrainRequest
        {
            Data = data, Spec = spec, RunFolder = older, Resume = true, Options = new TrainOptions { MaxSteps = 4, BatchSize = 16, Seed = 1 },
        });
        Assert.Empty(Checkpoint.ReadHeader(Path.Combine(older, Checkpoint.FileName)).ClassSizes);

        Assert.Equal([5, 5, 0, 3, 8, 8, 2, 7, 2, 8, 6, 3], ClassConditioning.FromSeeds(Seeds.Range(0, 12), 10, []));
        Assert.Throws<ArgumentException>(() => ClassConditioning.FromSeeds(seeds, 3, [120, 60]));
        Assert.Throws<ArgumentException>(() => ClassConditioning.FromSeeds(seeds, 3, [120, 0, 20]));
    }

    [Fact]
    public void The_mode_seeking_term_spreads_a_conditional_gans_samples_of_one_class_and_is_logged()
    {
        using var folder = new TempFolder();
        // Same data, seed and steps, raw generators (no moving average): only the term differs.
        TrainResult Train(string name, double modeSeeking) => Trainer.Run(new TrainRequest
        {
            Data = runs.Labelled, Spec = runs.GanSpec, RunFolder = folder.File(name),
            Options = new TrainOptions { MaxSteps = 80, BatchSize = 32, Seed = 3, EmaImages = 0, ModeSeeking = modeSeeking, LogEverySteps = 10 },
        });
        var without = Train("without", 0);
        var with = Train("with", 2);
        // Mean L1 distance between samples of one class from 48 different seeds: what the term raises.
        double Spread(TrainResult run, int cls)
        {
            using var sampler = ImageSampler.Load(run.CheckpointPath);
            using var images = sampler.Generate(Seeds.Range(500, 48), classes: Enumerable.Repeat(cls, 48).ToArray());
            using var flat = images.reshape(48, -1);
            using var distances = torch.cdist(flat, flat, p: 1);
            return distances.sum().item<float>() / (48.0 * 47) / flat.shape[1];
        }
        foreach (int cls in new[] { 0, 1 })
        {
            double plain = Spread(without, cls), spread = Spread(with, cls);
            Assert.True(spread > 1.5 * plain, $"class {cls}: samples differ by {spread:0.000} per pixel with the term, {plain:0.000} without");
        }
        Assert.Equal(8, StepMetrics.Read(with.RunFolder).Count);
        Assert.All(StepMetrics.Read(with.RunFolder), line => Assert.True(line.Losses["mode_spread"] > 0));
        Assert.All(StepMetrics.Read(without.RunFolder), line => Assert.False(line.Losses.ContainsKey("mode_spread")));

        // By default a DCGAN seeks modes at weight 0.5 on the data's own classes and 1 otherwise; a VAE never.
        var clustered = new TrainOptions { Clusters = 10 };
        Assert.Equal(1, clustered.ResolvedModeSeeking(runs.GanSpec with { Classes = 9 }));
        Assert.Equal(1, clustered.ResolvedModeSeeking(runs.GanSpec));
        Assert.Equal(0.5, new TrainOptions().ResolvedModeSeeking(runs.GanSpec with { Classes = 9 }));
        Assert.Equal(0, (clustered with { ModeSeeking = 0 }).ResolvedModeSeeking(runs.GanSpec with { Classes = 9 }));
        Assert.Equal(0, clustered.ResolvedModeSeeking(runs.VaeSpec with { Classes = 9 }));
        // Where runs begin it is resolved and recorded by where the classes come from (clusters set on labelled data
        // leave it the data's own classes), and a resumed run keeps its checkpoint's (off for one saved before the term
        // existed).
        Assert.Equal(1, ImageClusters.Resolve(clustered, ModelKind.Dcgan, runs.Data).ModeSeeking);
        Assert.Equal(0.5, ImageClusters.Resolve(new TrainOptions(), ModelKind.Dcgan, runs.Labelled).ModeSeeking);
        Assert.Equal(0.5, ImageClusters.Resolve(clustered, ModelKind.Dcgan, runs.Labelled).ModeSeeking);
        Assert.Equal(1, ImageClusters.Resolve(new TrainOptions { Conditional = false }, ModelKind.Dcgan, runs.Labelled).ModeSeeking);
        Assert.Equal(1, ImageClusters.Resolve(new TrainOptions { Clusters = 0 }, ModelKind.Dcgan, runs.Data).ModeSeeking);
        Assert.Equal(0, ImageClusters.Resolve(clustered, ModelKind.Vae, runs.Data).ModeSeeking);
        var older = Checkpoint.ReadHeader(without.CheckpointPath);
        older = older with { Options = older.Options with { Clusters = 10, ModeSeeking = null } };
        Assert.Equal(0, ImageClusters.Resolve(clustered, ModelKind.Dcgan, runs.Data, resumeFrom: older).ModeSeeking);
        Assert.Equal(2, ImageClusters.Resolve(clustered, ModelKind.Dcgan, runs.Data, resumeFrom: older with { Options = older.Options with { ModeSeeking = 2 } }).ModeSeeking);
    }

    [Fact]
    public void Conditional_true_on_unlabelled_data_is_refused_and_false_trains_unconditionally()
    {
        using var folder = new TempFolder();
        var spec = ModelSpec.DefaultFor(ModelKind.Dcgan) with { Ngf = 8, Ndf = 8, LatentSize = 8 };
        var e = Assert.Throws<ArgumentException>(() => Trainer.Run(new TrainRequest
        {
            Data = runs.Data, Spec = spec, RunFolder = folder.File("refused"),
            Options = new TrainOptions { MaxSteps = 1, BatchSize = 8, Seed = 1, Conditional = true },
        }));
        Assert.Contains("sub-folder (2 to 1,000 of them, every image in one), or name them in labels.json", e.Message);
        // Past 1,000 folders the folders are no classes: said as this limit, not left to look like no folders at all.
        var many = Enumerable.Range(0, 1001).Select(i => $"c{i}/a.png").ToList();
        Assert.Null(DatasetClasses.FromPaths(many));
        Assert.NotNull(DatasetClasses.FromPaths(many[..1000]));
        var plain = Trainer.Run(new TrainRequest
        {
            Data = runs.Labelled, Spec = spec, RunFolder = folder.File("plain"),
            Options = new TrainOptions { MaxSteps = 2, BatchSize = 8, Seed = 1, Conditional = false },
        });
        Assert.Equal(0, Checkpoint.ReadHeader(plain.CheckpointPath).Spec.Classes);
    }

    [Fact]
    public void A_warm_start_begins_from_the_given_networks_and_says_so()
    {
        using var folder = new TempFolder();
        var warm = Trainer.Run(new TrainRequest
        {
            Data = runs.Data, Spec = runs.GanSpec, RunFolder = folder.File("warm"), InitFrom = runs.Gan.CheckpointPath, InitFromName = "shapes/v0001",
            Options = new TrainOptions { MaxSteps = 1, BatchSize = 32, Seed = 9, EmaImages = 2_000 },
        });
        var header = Checkpoint.ReadHeader(warm.CheckpointPath);
        Assert.Equal("shapes/v0001", header.WarmStartedFrom);
        Assert.Equal(1, header.Step);
        // One step from the parent's weights: its samples stay close to the parent's, far from a fresh generator's.
        using var parent = ImageSampler.Load(runs.Gan.CheckpointPath, raw: true);
        using var child = ImageSampler.Load(warm.CheckpointPath, raw: true);
        using var a = parent.Generate(Seeds.Range(0, 16));
        using var b = child.Generate(Seeds.Range(0, 16));
        Assert.True((a - b).abs().mean().item<float>() < 0.1, "a warm start keeps the parent's generator");

        var other = runs.GanSpec with { Ngf = 8 };
        var refused = Assert.Throws<ArgumentException>(() => Trainer.Run(new TrainRequest
        {
            Data = runs.Data, Spec = other, RunFolder = folder.File("other"), InitFrom = runs.Gan.CheckpointPath,
            Options = new TrainOptions { MaxSteps = 1, BatchSize = 32, Seed = 9 },
        }));
        Assert.Contains("ngf=16", refused.Message);
    }

    [Theory]
    [InlineData(ModelKind.Dcgan, 1)]
    [InlineData(ModelKind.Vae, 3)]
    public void Models_train_sample_and_reload_at_128_pixels(ModelKind kind, int channels)
    {
        using var folder = new TempFolder();
        using var data = SyntheticShapes.Generate(16, 128, channels, seed: 2);
        var spec = ModelSpec.DefaultFor(kind, 128, channels) with { Ngf = 4, Ndf = 4, LatentSize = 8 };
        Assert.Equal(5, spec.Stages);
        var run = Trainer.Run(new TrainRequest { Data = data, Spec = spec, RunFolder = folder.File("run"), Options = new TrainOptions { MaxSteps = 2, BatchSize = 8, Seed = 1 } });
        using var sampler = ImageSampler.Load(run.CheckpointPath);
        using var images = sampler.Generate(Seeds.Range(0, 3));
        Assert.Equal(new long[] { 3, channels, 128, 128 }, images.shape);
        Assert.True(images.abs().max().item<float>() <= 1f);
    }

    [Theory]
    [InlineData("dcgan")]
    [InlineData("vae")]
    public void Checkpoints_written_before_classes_and_augmentation_still_sample_what_they_did_and_resume(string kind)
    {
        // Assets/v13-*.ckpt: written by the code of commit 42b3d88 (imagegen train --data synthetic:64 --max-steps 2 --ngf 4
        // --ndf 4 --nz 8 --seed 3, DCGAN with --ema 100); v13-*-seeds0-7.png: what its imagegen sample drew from them.
        string asset = Path.Combine(AppContext.BaseDirectory, "Assets", $"v13-{kind}.ckpt");
        using var sampler = ImageSampler.Load(asset);
        Assert.Equal(0, sampler.Spec.Classes);
        AssertDrawsAsBefore(sampler, $"v13-{kind}-seeds0-7.png");

        using var folder = new TempFolder();
        File.Copy(asset, folder.File(Checkpoint.FileName));
        using var data = SyntheticShapes.Generate(64, 32, 1, seed: 0);
        var resumed = Trainer.Run(new TrainRequest { Data = data, Spec = sampler.Spec, RunFolder = folder.Path, Resume = true, Options = new TrainOptions { MaxSteps = 3 } });
        Assert.Equal(3, resumed.Steps);
        var header = Checkpoint.ReadHeader(resumed.CheckpointPath);
        Assert.Equal(Augmentations.None, header.Options.Augment); // an old run keeps its recipe
        Assert.Equal(1.0, header.Options.KlWeight); // beta was not pinned then, and today's default is not the 1 it trained with
    }

    [Fact]
    public void A_conditional_vae_from_before_its_encoder_took_the_class_still_samples_what_it_did_and_resumes_as_it_was()
    {
        // Assets/v25-cvae.ckpt: written by the code of commit f6c13f8, whose conditional VAE encoder was q(z | x)
        // (imagegen train --data <32 plain and 32 inverted squares in two sub-folders> --model vae --max-steps 2
        // --batch-size 16 --ngf 4 --ndf 4 --nz 8 --seed 3); v25-cvae-seeds0-7.png: what its imagegen sample drew.
        string asset = Path.Combine(AppContext.BaseDirectory, "Assets", "v25-cvae.ckpt");
        using var sampler = ImageSampler.Load(asset);
        Assert.Equal((2, false), (sampler.Spec.Classes, sampler.Spec.ConditionalEncoder));
        AssertDrawsAsBefore(sampler, "v25-cvae-seeds0-7.png");

        // A resume asks for today's model (its encoder takes the class) and gets the run's own, as it was saved.
        using var folder = new TempFolder();
        File.Copy(asset, folder.File(Checkpoint.FileName));
        var request = sampler.Spec with { Classes = 0, ConditionalEncoder = false };
        var renamed = Assert.Throws<ArgumentException>(() => Trainer.Run(new TrainRequest
            { Data = runs.Labelled, Spec = request, RunFolder = folder.Path, Resume = true, Options = new TrainOptions { MaxSteps = 3 } }));
        Assert.Contains("classes (inverted, plain) are not the data's (plain, inverted)", renamed.Message);
        using var data = new ImageTensorDataset(runs.Labelled.Pixels.clone(), "two classes", runs.Labelled.Labels!.clone(), ["inverted", "plain"]);
        Assert.True(Trainer.WithClasses(request, new TrainOptions(), data).ConditionalEncoder);
        var resumed = Trainer.Run(new TrainRequest { Data = data, Spec = request, RunFolder = folder.Path, Resume = true, Options = new TrainOptions { MaxSteps = 3 } });
        Assert.Equal(3, resumed.Steps);
        Assert.Equal(sampler.Spec, Checkpoint.ReadHeader(resumed.CheckpointPath).Spec);
        // Nor does it start fitting a prior it never had: its samples stay drawn from N(0, I).
        var (resumedHeader, resumedSections) = Checkpoint.Read(resumed.CheckpointPath);
        Assert.Equal(false, resumedHeader.Options.FitPrior);
        Assert.DoesNotContain(CheckpointSections.LatentPrior, resumedSections.Keys);
        // Described apart from today's, so a warm start from it says why it starts fresh instead.
        Assert.EndsWith("(its encoder without the class)", Trainer.Describe(sampler.Spec));
    }

    [Fact]
    public void A_conditional_vae_encodes_with_the_class_so_the_class_decides_what_its_samples_show()
    {
        var run = runs.ConditionalVae;
        using var sampler = ImageSampler.Load(run.CheckpointPath);
        Assert.Equal((2, true), (sampler.Spec.Classes, sampler.Spec.ConditionalEncoder));
        // Its beta and its fitted prior are pinned in the run's options, as the defaults were.
        var pinned = Checkpoint.ReadHeader(run.CheckpointPath).Options;
        Assert.Equal((0.1, true), (pinned.KlWeight, pinned.FitPrior));
        // q(z | x, y): the same images give other codes under the other class.
        var encoder = Assert.IsType<VaeEncoder>(sampler.Encoder);
        using (torch.no_grad())
        {
            using var images = runs.Labelled.Batch(torch.arange(0, 8, dtype: ScalarType.Int64));
            var (asPlain, _) = encoder.Encode(images, torch.zeros(8, dtype: ScalarType.Int64));
            var (asInverted, _) = encoder.Encode(images, torch.ones(8, dtype: ScalarType.Int64));
            Assert.False(asPlain.allclose(asInverted), "the encoder ignores the class");
            Assert.Throws<InvalidOperationException>(() => encoder.Encode(images, null));
        }
        // z drawn from the class's fitted prior and the one-hot must move the samples from plain shapes (mostly black)
        // to inverted ones (mostly white) by most of the real classes' gap in mean brightness (seeded: it drew 1.41 of
        // the real 1.42; from N(0, I) at beta 2, before the prior was fitted, 0.51; a class ignored draws 0).
        var seeds = Seeds.Range(100, 64);
        using var plain = sampler.Generate(seeds, classes: Enumerable.Repeat(0, 64).ToArray());
        using var inverted = sampler.Generate(seeds, classes: Enumerable.Repeat(1, 64).ToArray());
        using var realPlain = runs.Labelled.Batch(torch.arange(0, runs.Labelled.Count / 2, dtype: ScalarType.Int64));
        using var realInverted = runs.Labelled.Batch(torch.arange(runs.Labelled.Count / 2, runs.Labelled.Count, dtype: ScalarType.Int64));
        double drawnGap = (inverted.mean() - plain.mean()).item<float>(), realGap = (realInverted.mean() - realPlain.mean()).item<float>();
        Assert.True(drawnGap > realGap * 3 / 4, $"the class moved mean brightness by {drawnGap:0.00}; the real classes differ by {realGap:0.00}");

        var e = Assert.Throws<ArgumentException>(() => (runs.GanSpec with { Classes = 2, ConditionalEncoder = true }).Validate());
        Assert.Contains("conditional encoder belongs to a class-conditional VAE", e.Message);

        // The checkpoint's latent prior is fitted to each class's posteriors, and the sampler draws z = mean_y + scale_y eps
        // through the networks it folded.
        var prior = AssertPriorFitsEachClassPosteriors(run.CheckpointPath, runs.Labelled);
        var (header, sections) = Checkpoint.Read(run.CheckpointPath);
        using var rawDecoder = new VaeDecoder(header.Spec);
        Checkpoint.LoadModule(rawDecoder, sections[CheckpointSections.Generator], CheckpointSections.Generator);
        rawDecoder.eval();
        using (torch.no_grad())
        using (torch.NewDisposeScope())
        {
            int nz = header.Spec.LatentSize;
            var means = torch.tensor(prior.Means, [2, nz]);
            var scales = torch.tensor(prior.Scales, [2, nz, nz]);
            Assert.False(scales[0].allclose(scales[1], rtol: 1e-2, atol: 1e-3), "the classes share one scale");

            var classes = Enumerable.Range(0, 8).Select(i => i % 2).ToArray();
            using var classIndices = torch.tensor(classes.Select(c => (long)c).ToArray());
            var eps = GeneratorTensors.Latents(Seeds.Range(0, 8), nz).to_type(ScalarType.Float64);
            var z = (means.index_select(0, classIndices) + scales.index_select(0, classIndices).matmul(eps.unsqueeze(2)).squeeze(2)).to_type(ScalarType.Float32);
            using var expected = rawDecoder.Generate(GeneratorTensors.Inputs(header.Spec, z, classes));
            using var drawn = sampler.Generate(Seeds.Range(0, 8), classes: classes);
            Assert.True(drawn.allclose(expected, rtol: 1e-4, atol: 1e-4), $"the sampler does not draw from the fitted prior (off by {(drawn - expected).abs().max().item<float>()})");
        }
    }

    /// <summary>
    /// A class-conditional VAE reconstructs an image with its class (held-out images of both classes), refuses to without
    /// it, and the evaluation scores its reconstructions with the data's labels.
    /// </summary>
    [Fact]
    public void A_conditional_vae_reconstructs_an_image_with_its_class()
    {
        using var sampler = ImageSampler.Load(runs.ConditionalVae.CheckpointPath);
        using var heldOut = TrainedRuns.PlainAndInverted(runs.HeldOut);
        int half = heldOut.Count / 2;
        using var picked = torch.cat([torch.arange(0, 8, dtype: ScalarType.Int64), torch.arange(half, half + 8, dtype: ScalarType.Int64)]);
        using var images = heldOut.Batch(picked);
        int[] classes = [.. Enumerable.Repeat(0, 8), .. Enumerable.Repeat(1, 8)];
        static double Error(Tensor a, Tensor b) => (a - b).pow(2).mean().item<float>();

        using var reconstructed = sampler.Reconstruct(images, classes);
        Assert.Equal(images.shape, reconstructed.shape);
        using var shuffled = images.roll(1, 0);
        double own = Error(reconstructed, images), other = Error(reconstructed, shuffled);
        Assert.True(own < 0.5 * other, $"a reconstruction should match its own input ({own:0.000}) far better than another ({other:0.000})");

        Assert.Contains("with its class", Assert.Throws<ArgumentException>(() => sampler.Reconstruct(images)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Reconstruct(images, [.. Enumerable.Repeat(2, 16)]));
        using (var unconditional = ImageSampler.Load(runs.Vae.CheckpointPath))
            Assert.Contains("not class-conditional", Assert.Throws<ArgumentException>(() => unconditional.Reconstruct(images, classes)).Message);

        // The evaluation reconstructs with the data's labels: the first 64 images are plain, and their error under the
        // wrong class is higher.
        var metrics = ImageGen.Core.Metrics.Evaluation.Evaluate(sampler, runs.Labelled, maxImages: 64);
        using var plainImages = runs.Labelled.Batch(torch.arange(64));
        using var asWrongClass = sampler.Reconstruct(plainImages, [.. Enumerable.Repeat(1, 64)]);
        double wrong = Error(asWrongClass, plainImages);
        Console.WriteLine($"conditional VAE reconstruction: own {own:0.000}, another image {other:0.000}; evaluation {metrics["reconstructionMse"]:0.000}, the wrong class {wrong:0.000}");
        Assert.True(metrics["reconstructionMse"] < wrong,
            $"the evaluation's reconstruction error ({metrics["reconstructionMse"]:0.000}) should be that of the images' own class, below the wrong class's ({wrong:0.000})");
    }

    /// <summary>
    /// A class of one image cannot give a covariance of its own: its prior takes its posterior's variance and, mostly, the
    /// covariance pooled over the classes, and it draws finite, varied samples.
    /// </summary>
    [Fact]
    public void A_class_of_one_image_borrows_the_pooled_covariance_for_its_prior()
    {
        using var folder = new TempFolder();
        int half = runs.Labelled.Count / 2;
        using var picked = torch.cat([torch.arange(0, 24, dtype: ScalarType.Int64), torch.arange(half, half + 24, dtype: ScalarType.Int64)]);
        using var pixels = runs.Labelled.Pixels.index_select(0, picked);
        using var labels = torch.cat([torch.zeros(24, dtype: ScalarType.Int64), torch.ones(23, dtype: ScalarType.Int64), torch.full(1, 2L, dtype: ScalarType.Int64)]);
        using var data = new ImageTensorDataset(pixels.clone(), "plain, inverted and one lone shape", labels.clone(), ["plain", "inverted", "lone"]);
        var run = Trainer.Run(new TrainRequest
        {
            Data = data, Spec = runs.VaeSpec, RunFolder = folder.File("lone"),
            Options = new TrainOptions { MaxSteps = 6, BatchSize = 16, Seed = 5 },
        });
        var prior = AssertPriorFitsEachClassPosteriors(run.CheckpointPath, data);
        Assert.Equal(3, prior.ScaleRows);
        using var sampler = ImageSampler.Load(run.CheckpointPath);
        using var lone = sampler.Generate(Seeds.Range(0, 8), classes: Enumerable.Repeat(2, 8).ToArray());
        Assert.True(lone.isfinite().all().item<bool>() && lone.std().item<float>() > 0, "the lone class's samples are not finite and varied");
    }

    /// <summary>
    /// The checkpoint's latent prior is a Gaussian per class of the raw encoder's posteriors of data (all of it, as FitPrior
    /// takes up to 8,192 images): the class's mean code, and its codes' spread about that mean plus their posteriors' mean
    /// variance, shrunk toward the same pooled over the classes as if that were nz more images of the class.
    /// </summary>
    private static LatentPrior AssertPriorFitsEachClassPosteriors(string checkpointPath, ImageTensorDataset data)
    {
        var (header, sections) = Checkpoint.Read(checkpointPath);
        Assert.Equal(true, header.Options.FitPrior);
        var prior = LatentPrior.Read(sections[CheckpointSections.LatentPrior], header.Spec);
        using var rawEncoder = new VaeEncoder(header.Spec);
        Checkpoint.LoadModule(rawEncoder, sections[CheckpointSections.Encoder], CheckpointSections.Encoder);
        rawEncoder.eval();
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        int nz = header.Spec.LatentSize, classes = header.Spec.Classes;
        Assert.Equal(classes, prior.ScaleRows);
        var all = torch.arange(data.Count, dtype: ScalarType.Int64);
        var labels = data.BatchLabels(all)!;
        var (mu, logvar) = rawEncoder.Encode(data.Batch(all), labels);
        var codes = mu.to_type(ScalarType.Float64);
        var variances = logvar.exp().to_type(ScalarType.Float64);
        var means = torch.tensor(prior.Means, [classes, nz]);
        var scales = torch.tensor(prior.Scales, [classes, nz, nz]);
        var residuals = codes - means.index_select(0, labels);
        var pooled = residuals.t().matmul(residuals) / (data.Count - classes) + torch.diag(variances.mean([0]));
        for (int c = 0; c < classes; c++)
        {
            var ofClass = labels.eq(c);
            long count = ofClass.sum().item<long>();
            Assert.True(means[c].allclose(codes[ofClass].mean([0]), rtol: 1e-4, atol: 1e-4), $"class {c}'s prior mean is not its codes' mean");
            var own = residuals[ofClass].t().matmul(residuals[ofClass]) / Math.Max(count - 1, 1) + torch.diag(variances[ofClass].mean([0]));
            var shrunk = (own * count + pooled * nz) / (count + nz);
            Assert.True(scales[c].matmul(scales[c].t()).allclose(shrunk, rtol: 1e-3, atol: 1e-4), $"class {c}'s prior covariance is not its aggregate posterior's, shrunk");
        }
        return prior;
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(3, false)] // one scale shared by the classes, as checkpoints before the scales were per class hold
    [InlineData(3, true)]
    public void A_latent_prior_folds_into_the_vae_so_eps_from_n01_draws_what_the_prior_draws(int classes, bool scalePerClass)
    {
        torch.manual_seed(11);
        var spec = ModelSpec.DefaultFor(ModelKind.Vae) with { Ngf = 8, Ndf = 8, LatentSize = 6, Classes = classes, ConditionalEncoder = classes > 0 };
        int rows = Math.Max(classes, 1), nz = spec.LatentSize, n = 12;
        using var decoder = new VaeDecoder(spec);
        using var folded = new VaeDecoder(spec);
        using var encoder = new VaeEncoder(spec);
        using var foldedEncoder = new VaeEncoder(spec);
        folded.load_state_dict(decoder.state_dict());
        foldedEncoder.load_state_dict(encoder.state_dict());
        foreach (var module in new nn.Module[] { decoder, folded, encoder, foldedEncoder }) module.eval();
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope(); // after the modules, whose weights outlive it
        int scaleRows = scalePerClass ? rows : 1;
        var random = torch.randn(scaleRows, nz, nz, dtype: ScalarType.Float64);
        var scales = torch.linalg.cholesky(random.matmul(random.transpose(1, 2)) + torch.eye(nz, dtype: ScalarType.Float64));
        var means = torch.randn(rows, nz, dtype: ScalarType.Float64) * 2;
        var prior = new LatentPrior(means.data<double>().ToArray(), scales.contiguous().data<double>().ToArray(), nz);
        Assert.Equal(scaleRows, prior.ScaleRows);
        prior.FoldInto(folded);
        prior.FoldInto(foldedEncoder);

        var eps = torch.randn(n, nz);
        var labels = torch.tensor(Enumerable.Range(0, n).Select(i => (long)(i % rows)).ToArray());
        // Each row's scale: its class's, or the one shared.
        var rowScales = scales.index_select(0, scalePerClass ? labels : torch.zeros(n, dtype: ScalarType.Int64));
        Tensor Scaled(Tensor latents) => rowScales.matmul(latents.to_type(ScalarType.Float64).unsqueeze(2)).squeeze(2);
        var z = (means.index_select(0, labels) + Scaled(eps)).to_type(ScalarType.Float32);
        Tensor Input(Tensor latent) => classes > 0 ? GeneratorTensors.AppendClasses(latent, labels, classes) : latent;
        var expected = decoder.Generate(Input(z));
        var drawn = folded.Generate(Input(eps));
        Assert.True(drawn.allclose(expected, rtol: 1e-4, atol: 1e-4), $"the folded decoder differs by {(drawn - expected).abs().max().item<float>()}");
        Assert.False(decoder.Generate(Input(eps)).allclose(expected, rtol: 1e-4, atol: 1e-4)); // the prior moved the samples

        // The encoder's mean folds the other way: it gives the eps the folded decoder turns back into the image's code.
        var images = torch.rand(n, 1, 32, 32) * 2 - 1;
        var code = classes > 0 ? encoder.Encode(images, labels).mu : encoder.EncodeMean(images);
        var foldedCode = classes > 0 ? foldedEncoder.Encode(images, labels).mu : foldedEncoder.EncodeMean(images);
        var backToCode = (means.index_select(0, labels) + Scaled(foldedCode)).to_type(ScalarType.Float32);
        Assert.True(backToCode.allclose(code, rtol: 1e-4, atol: 1e-4), $"the folded encoder's code differs by {(backToCode - code).abs().max().item<float>()}");

        // Its section round-trips, and a section of another shape or with a bad scale is refused by name.
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) prior.Write(writer);
        var read = LatentPrior.Read(buffer.ToArray(), spec);
        Assert.Equal(prior.Means, read.Means);
        Assert.Equal(prior.Scales, read.Scales);
        Assert.Contains("latent prior", Assert.Throws<InvalidDataException>(() => LatentPrior.Read(buffer.ToArray(), spec with { LatentSize = 7 })).Message);
        Assert.Contains("latent prior", Assert.Throws<InvalidDataException>(() => LatentPrior.Read(buffer.ToArray()[..^8], spec)).Message);
        var flat = (double[])prior.Scales.Clone();
        flat[^1] = -1; // the last scale's last diagonal entry
        Assert.Contains("positive diagonal", Assert.Throws<ArgumentException>(() => new LatentPrior(prior.Means, flat, nz)).Message);
        Assert.Contains("needs one 6x6 scale", Assert.Throws<ArgumentException>(() => new LatentPrior(prior.Means, new double[2 * nz * nz], nz)).Message);
    }

    /// <summary>Seeds 0-7 of the sampler as a grid match the asset's PNG within one level per channel.</summary>
    private static void AssertDrawsAsBefore(ImageSampler sampler, string png)
    {
        using var images = sampler.Generate(Seeds.Range(0, 8));
        int worst = TestImages.MostDifferentLevel(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Assets", png)),
            Core.Imaging.TensorImages.EncodeGridPng(images));
        Assert.True(worst <= 1, $"the old checkpoint's samples moved by {worst} levels");
    }
}
