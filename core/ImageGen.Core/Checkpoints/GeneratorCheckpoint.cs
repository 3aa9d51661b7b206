using ImageGen.Core.Models;

namespace ImageGen.Core.Checkpoints;

/// <summary>
/// A checkpoint's generator (and its encoder, where the family has one) rebuilt from the header's spec and
/// loaded in eval mode; the other sections (discriminator, optimizer states) are skipped unread.
/// </summary>
public sealed class GeneratorCheckpoint : IDisposable
{
    public CheckpointHeader Header { get; }
    public IImageGenerator Generator { get; }
    public IImageEncoder? Encoder { get; }

    private GeneratorCheckpoint(CheckpointHeader header, IImageGenerator generator, IImageEncoder? encoder)
    {
        Header = header;
        Generator = generator;
        Encoder = encoder;
    }

    public static GeneratorCheckpoint Load(Stream stream)
    {
        var (header, sections) = Checkpoint.Read(stream, new HashSet<string> { CheckpointSections.Generator, CheckpointSections.Encoder });
        var family = ModelFamily.For(header.Spec.Kind);
        var generator = family.CreateGenerator(header.Spec);
        Checkpoint.LoadModule(generator.AsModule, sections[CheckpointSections.Generator]);
        generator.AsModule.eval();
        IImageEncoder? encoder = null;
        if (sections.TryGetValue(CheckpointSections.Encoder, out var encoderBytes) && family.CreateEncoder(header.Spec) is { } created)
        {
            encoder = created;
            Checkpoint.LoadModule(encoder.AsModule, encoderBytes);
            encoder.AsModule.eval();
        }
        return new GeneratorCheckpoint(header, generator, encoder);
    }

    public void Dispose() { Generator.Dispose(); Encoder?.Dispose(); }
}
