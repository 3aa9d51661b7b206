using System.Text.Json;
using ImageGen.Core.Models;
using Microsoft.ML.OnnxRuntime;

namespace ImageGen.Core.Sampling;

/// <summary>
/// A generator exported to ONNX (OnnxExport), run by ONNX Runtime on the CPU: latents [n, nz] (and classes [n] where
/// conditional) to images [n, C, H, W] in [-1, 1]. The spec, class names and class sizes come from the file's metadata. Loading
/// builds the session, which checks the graph (types and shapes of every node) and fails on a malformed one.
/// </summary>
public sealed class OnnxGenerator : IServedGenerator
{
    /// <summary>
    /// The graph's inputs and output, and the metadata keys it is read by: the spec (JSON), the class names (JSON array),
    /// the training images per class (JSON array; absent in files exported before it was recorded), the producer. The
    /// export writes these.
    /// </summary>
    public const string LatentInput = "z", ClassInput = "class", ImagesOutput = "images";
    public const string SpecKey = "imagegen.spec", ClassesKey = "imagegen.classes", ClassSizesKey = "imagegen.class_sizes", ProducerKey = "imagegen.producer";
    private readonly InferenceSession session;
    private readonly RunOptions runOptions = new();
    public ModelSpec Spec { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public IReadOnlyList<int> ClassSizes { get; }
    /// <summary>The producer and opset the file records, e.g. "ImageGen 1.0.0, opset 17".</summary>
    public string Producer { get; }

    private OnnxGenerator(InferenceSession session, ModelSpec spec, IReadOnlyList<string> classNames, IReadOnlyList<int> classSizes, string producer)
    {
        this.session = session;
        Spec = spec;
        ClassNames = classNames;
        ClassSizes = classSizes;
        Producer = producer;
    }

    /// <summary>A metadata value read as JSON; one that is not is refused naming its key, as any other fault of the model is.</summary>
    private static T? Metadata<T>(string key, string json)
    {
        try { return JsonSerializer.Deserialize<T>(json, Json.Options); }
        catch (JsonException e) { throw new InvalidDataException($"the ONNX model's '{key}' metadata is not the JSON ImageGen writes: {e.Message}", e); }
    }

    /// <param name="threads">ONNX Runtime's intra-op threads (0: its default, one per core).</param>
    public static OnnxGenerator Load(byte[] model, int threads = 0)
    {
        var session = CreateSession(model, threads);
        try
        {
            var metadata = session.ModelMetadata;
            if (!metadata.CustomMetadataMap.TryGetValue(SpecKey, out string? specJson))
                throw new InvalidDataException($"the ONNX model has no '{SpecKey}' metadata: it was not exported by ImageGen");
            var spec = Metadata<ModelSpec>(SpecKey, specJson) ?? throw new InvalidDataException($"'{SpecKey}' is empty");
            try { spec.Validate(); }
            catch (ArgumentException e) { throw new InvalidDataException($"the ONNX model's '{SpecKey}': {e.Message}", e); }
            var classes = metadata.CustomMetadataMap.TryGetValue(ClassesKey, out string? classJson)
                ? Metadata<string[]>(ClassesKey, classJson) ?? [] : [];
            if (classes.Length != spec.Classes) throw new InvalidDataException($"the ONNX model names {classes.Length} classes for a spec of {spec.Classes}");
            var classSizes = metadata.CustomMetadataMap.TryGetValue(ClassSizesKey, out string? sizesJson)
                ? Metadata<int[]>(ClassSizesKey, sizesJson) ?? [] : [];
            if (classSizes.Length > 0 && (classSizes.Length != spec.Classes || classSizes.Any(n => n < 1)))
                throw new InvalidDataException($"the ONNX model's '{ClassSizesKey}' ({sizesJson}) does not give each of its {spec.Classes} classes at least one image");
            bool conditional = session.InputMetadata.ContainsKey(ClassInput);
            if (!session.InputMetadata.ContainsKey(LatentInput) || conditional != spec.Classes > 0 || !session.OutputMetadata.ContainsKey(ImagesOutput))
                throw new InvalidDataException($"the ONNX model's inputs ({string.Join(", ", session.InputMetadata.Keys)}) and outputs " +
                    $"({string.Join(", ", session.OutputMetadata.Keys)}) are not {LatentInput}{(spec.Classes > 0 ? ", " + ClassInput : "")} to {ImagesOutput}");
            return new OnnxGenerator(session, spec, classes, classSizes, metadata.CustomMetadataMap.TryGetValue(ProducerKey, out string? producer) ? producer : metadata.ProducerName);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    public static OnnxGenerator Load(string path, int threads = 0) => Load(File.ReadAllBytes(path), threads);

    /// <summary>A session as serving runs one: sequential, one inter-op thread, every graph optimisation; building it checks the graph.</summary>
    internal static InferenceSession CreateSession(byte[] model, int threads)
    {
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        try { return new InferenceSession(model, options); }
        catch (OnnxRuntimeException e) { throw new InvalidDataException($"the ONNX model does not load: {e.Message}", e); }
    }

    public string Backend => "onnxruntime";

    /// <summary>Images [count, C, H, W] in [-1, 1], row-major, for latents [count, nz] and (conditional) one class per image.</summary>
    public float[] Generate(float[] latents, int[] classes, int count)
    {
        if (latents.Length != count * Spec.LatentSize) throw new ArgumentException($"{latents.Length} latent values for {count} images of nz {Spec.LatentSize}");
        var inputs = new Dictionary<string, OrtValue>();
        try
        {
            inputs[LatentInput] = OrtValue.CreateTensorValueFromMemory(latents, [count, Spec.LatentSize]);
            if (Spec.Classes > 0)
            {
                if (classes.Length != count) throw new ArgumentException($"{classes.Length} classes for {count} images");
                inputs[ClassInput] = OrtValue.CreateTensorValueFromMemory(classes.Select(c => (long)c).ToArray(), [count]);
            }
            using var outputs = session.Run(runOptions, inputs, [ImagesOutput]);
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }
        finally { foreach (var value in inputs.Values) value.Dispose(); }
    }

    public void Dispose()
    {
        runOptions.Dispose();
        session.Dispose();
    }
}
