using ImageGen.Core.Checkpoints;
using ImageGen.Core.Export;
using ImageGen.Core.Sampling;

namespace ImageGen.Cli;

/// <summary>
/// imagegen export: a checkpoint's generator (its moving average, or --raw) as model.onnx, and a VAE's encoder as
/// encoder.onnx beside it (as publishing writes them), each checked by loading it in ONNX Runtime.
/// </summary>
public static class ExportCommand
{
    public static int Run(string[] rawArgs, TextWriter output)
    {
        var args = Args.Parse(CommandTree.Export, rawArgs);
        string path = Checkpoint.Resolve(args.Required("--checkpoint"));
        string outPath = args.String("--out") ?? "model.onnx";
        string? encoderPath = OnnxExport.Write(path, outPath, raw: args.Has("--raw"));
        using var loaded = OnnxGenerator.Load(outPath, threads: 1);
        var spec = loaded.Spec;
        output.WriteLine($"wrote {outPath} ({new FileInfo(outPath).Length:N0} bytes; {loaded.Producer}): {spec.Kind} {spec.ImageSize}x{spec.ImageSize}x{spec.Channels}, " +
            $"inputs z [batch, {spec.LatentSize}]{(spec.Classes > 0 ? $" and class [batch] ({spec.Classes} classes)" : "")}, output images [batch, {spec.Channels}, {spec.ImageSize}, {spec.ImageSize}] in [-1, 1]");
        if (encoderPath is not null)
        {
            using var reconstructor = OnnxReconstructor.Load(OnnxGenerator.Load(outPath, threads: 1), File.ReadAllBytes(encoderPath), threads: 1);
            output.WriteLine($"wrote {encoderPath} ({new FileInfo(encoderPath).Length:N0} bytes): the encoder, input images [batch, {spec.Channels}, {spec.ImageSize}, {spec.ImageSize}] " +
                $"in [-1, 1]{(spec.ConditionalEncoder ? " and class [batch]" : "")}, output mu [batch, {spec.LatentSize}], for reconstruction");
        }
        return 0;
    }
}
