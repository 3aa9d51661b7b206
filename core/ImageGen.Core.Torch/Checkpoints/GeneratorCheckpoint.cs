using ImageGen.Core.Models;

namespace ImageGen.Core.Checkpoints;

/// <summary>
/// A checkpoint's generator (and its encoder, where the family has one) rebuilt from the header's spec and
/// loaded in eval mode: the moving average of its weights where the checkpoint has one, else the raw generator. A VAE's
/// fitted latent prior, where saved, is folded into its networks here, so everything downstream draws from N(0, I) as
/// before. The other sections (discriminator, optimizer states) are skipped unread.
/// </summary>
public sealed class GeneratorCheckpoint : IDisposable
{
    public CheckpointHeader Header { get; }
    public IImageGenerator Generator { get; }
    public IImageEncoder? Encoder { get; }
    /// <summary>Whether the generator is the checkpoint's moving average (G_ema) rather than its raw weights.</summary>
    public bool Averaged { get; private init; }

    private GeneratorCheckpoint(CheckpointHeader header, IImageGenerator generator, IImageEncoder? encoder)
    {
        Header = header;
        Generator = generator;
        Encoder = encoder;
    }

    /// <param name="raw">Load the raw generator even where the checkpoint has its moving average (which is the default).</param>
    public static GeneratorCheckpoint Load(Stream stream, bool raw = false)
    {
        var (header, sections) = Checkpoint.Read(stream,
            new HashSet<string> { raw ? CheckpointSections.Generator : CheckpointSections.GeneratorAverage, CheckpointSections.Generator, CheckpointSections.Encoder, CheckpointSections.LatentPrior });
        var family = ModelFamily.For(header.Spec.Kind);
        var generator = family.CreateGenerator(header.Spec);
        bool averaged = !raw && sections.ContainsKey(CheckpointSections.GeneratorAverage);
        string section = averaged ? CheckpointSections.GeneratorAverage : CheckpointSections.Generator;
        if (!sections.TryGetValue(section, out var generatorBytes))
        {
            generator.Dispose();
            throw new InvalidDataException($"checkpoint has no '{section}' section");
        }
        try { Checkpoint.LoadModule(generator.AsModule, generatorBytes, section); }
        catch { generator.Dispose(); throw; }
        generator.AsModule.eval();
        IImageEncoder? encoder = null;
        if (sections.TryGetValue(CheckpointSections.Encoder, out var encoderBytes) && family.CreateEncoder(header.Spec) is { } created)
        {
            encoder = created;
            try { Checkpoint.LoadModule(encoder.AsModule, encoderBytes, CheckpointSections.Encoder); }
            catch { generator.Dispose(); encoder.Dispose(); throw; }
            encoder.AsModule.eval();
        }
        if (sections.TryGetValue(CheckpointSections.LatentPrior, out var priorBytes))
        {
            try { FoldPrior(LatentPrior.Read(priorBytes, header.Spec), generator, encoder); }
            catch { generator.Dispose(); encoder?.Dispose(); throw; }
        }
        return new GeneratorCheckpoint(header, generator, encoder) { Averaged = averaged };
    }

    private static void FoldPrior(LatentPrior prior, IImageGenerator generator, IImageEncoder? encoder)
    {
        if (generator is not VaeDecoder decoder)
            throw new InvalidDataException($"checkpoint: a latent prior belongs to a VAE, not to a {ModelFamily.For(generator.Spec.Kind).Name}");
        prior.FoldInto(decoder);
        if (encoder is VaeEncoder vaeEncoder) prior.FoldInto(vaeEncoder);
    }

    /// <summary>Networks already in memory (tests), put in eval mode; the checkpoint owns them from here.</summary>
    internal static GeneratorCheckpoint FromNetworks(CheckpointHeader header, IImageGenerator generator, IImageEncoder? encoder)
    {
        generator.AsModule.eval();
        encoder?.AsModule.eval();
        return new GeneratorCheckpoint(header, generator, encoder);
    }

    public void Dispose() { Generator.Dispose(); Encoder?.Dispose(); }
}
