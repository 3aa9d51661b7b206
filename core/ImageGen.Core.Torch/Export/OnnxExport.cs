using ImageGen.Core.Sampling;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using Google.Protobuf;
using ImageGen.Core.Checkpoints;
using ImageGen.Core.Models;
using Onnx;

namespace ImageGen.Core.Export;

/// <summary>
/// A checkpoint's generator as an ONNX model, built from its trained weights (the moving average where there is one):
/// input <c>z</c> float [batch, nz] (and <c>class</c> int64 [batch] where the model is class-conditional), output
/// <c>images</c> float [batch, C, H, W] in [-1, 1], the batch dimension dynamic. BatchNorm is folded into the
/// transposed convolution before it. The spec and the class names ride along as metadata, so the file alone serves.
/// </summary>
public static class OnnxExport
{
    /// <summary>ONNX opset 17 (every operator here is older) in IR version 8, the pair ONNX 1.12 defined: any runtime since 2022 loads it.</summary>
    public const int Opset = 17;
    public const long IrVersion = 8;
    // The names a served model is read by (OnnxGenerator holds them, since serving has no exporter).
    public const string LatentInput = OnnxGenerator.LatentInput, ClassInput = OnnxGenerator.ClassInput, ImagesOutput = OnnxGenerator.ImagesOutput;
    public const string EncoderInput = OnnxReconstructor.ImagesInput, EncoderOutput = OnnxReconstructor.MeanOutput;
    public const string SpecKey = OnnxGenerator.SpecKey, ClassesKey = OnnxGenerator.ClassesKey, ClassSizesKey = OnnxGenerator.ClassSizesKey, ProducerKey = OnnxGenerator.ProducerKey;
    /// <summary>Metadata keys beyond what serving reads: the checkpoint's step, and whether the weights are the average.</summary>
    public const string StepKey = "imagegen.step", AveragedKey = "imagegen.averaged";

    public static string ProducerVersion { get; } =
        typeof(OnnxExport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";

    public static byte[] ToBytes(GeneratorCheckpoint checkpoint) => ToBytes(checkpoint.Header, checkpoint.Generator, checkpoint.Averaged);

    public static byte[] ToBytes(CheckpointHeader header, IImageGenerator generator, bool averaged) => Build(header, generator, averaged).ToByteArray();

    /// <summary>The checkpoint's encoder as encoder.onnx, where it has one (a VAE); else null.</summary>
    public static byte[]? EncoderToBytes(GeneratorCheckpoint checkpoint) =>
        checkpoint.Encoder is { } encoder ? EncoderToBytes(checkpoint.Header, encoder) : null;

    /// <summary>
    /// Reads the checkpoint (a file or a run folder) and writes its generator to outPath, and a reconstructing VAE's encoder
    /// to encoder.onnx in the same folder; returns the encoder's path, or null where there is none.
    /// </summary>
    public static string? Write(string checkpointOrRunFolder, string outPath, bool raw = false)
    {
        using var file = File.OpenRead(Checkpoint.Resolve(checkpointOrRunFolder));
        using var checkpoint = GeneratorCheckpoint.Load(file, raw);
        string folder = Path.GetDirectoryName(Path.GetFullPath(outPath))!;
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(outPath, ToBytes(checkpoint));
        if (EncoderToBytes(checkpoint) is not { } encoder) return null;
        string encoderPath = Path.Combine(folder, EncoderFile);
        File.WriteAllBytes(encoderPath, encoder);
        return encoderPath;
    }

    /// <summary>The encoder's file name, beside model.onnx (as a published version holds it).</summary>
    public const string EncoderFile = "encoder.onnx";

    /// <param name="generator">In eval mode: BatchNorm's running statistics are what gets folded.</param>
    public static ModelProto Build(CheckpointHeader header, IImageGenerator generator, bool averaged)
    {
        var spec = header.Spec;
        var graph = new GraphBuilder($"{spec.Kind.ToString().ToLowerInvariant()}_generator");
        graph.Input(LatentInput, TensorProto.Types.DataType.Float, spec.LatentSize);
        string x = LatentInput;
        // The one-hot class appended to z: the generator's own input layout.
        string? oneHot = spec.Classes > 0 ? ClassOneHot(graph, spec.Classes) : null;
        if (oneHot is not null) x = graph.Node("Concat", [x, oneHot], Attribute("axis", 1));
        x = AppendLayers(graph, x, generator.InferenceLayers(), oneHot);
        // ONNX Runtime's vectorised tanh can land an ulp past 1 where it saturates; the output's contract is [-1, 1].
        x = graph.Node("Clip", [x, graph.Scalar("min", -1f), graph.Scalar("max", 1f)]);
        graph.Output(x, ImagesOutput, spec.Channels, spec.ImageSize, spec.ImageSize);

        return Model(graph, header, averaged, $"{ModelFamily.For(spec.Kind).Name} generator, {spec.ImageSize}x{spec.ImageSize}x{spec.Channels}, nz {spec.LatentSize}" +
            (spec.Classes > 0 ? $", {spec.Classes} classes" : "") + ": z (and class) to images in [-1, 1]");
    }

    /// <summary>
    /// A VAE's encoder as encoder.onnx, what reconstruction needs beside model.onnx: input <c>images</c> float [batch, C, H, W]
    /// in [-1, 1] (and <c>class</c> int64 [batch], each image's class, where the encoder takes it), output <c>mu</c> float
    /// [batch, nz] (the posterior's mean, which the decoder then draws from), BatchNorm folded into the convolution before it.
    /// </summary>
    public static byte[] EncoderToBytes(CheckpointHeader header, IImageEncoder encoder)
    {
        var spec = header.Spec;
        var graph = new GraphBuilder($"{spec.Kind.ToString().ToLowerInvariant()}_encoder");
        graph.Input(EncoderInput, TensorProto.Types.DataType.Float, spec.Channels, spec.ImageSize, spec.ImageSize);
        string? oneHot = encoder.TakesClass ? ClassOneHot(graph, spec.Classes) : null;
        string x = AppendLayers(graph, EncoderInput, encoder.InferenceLayers(), oneHot);
        graph.Output(x, EncoderOutput, spec.LatentSize);
        return Model(graph, header, averaged: false,
            $"{ModelFamily.For(spec.Kind).Name} encoder, {spec.ImageSize}x{spec.ImageSize}x{spec.Channels} images in [-1, 1]" + (oneHot is null ? "" : " and their classes") +
            $" to the latent mean, nz {spec.LatentSize}").ToByteArray();
    }

    /// <summary>The graph's class input (int64 [batch]) and its one-hot [batch, classes], as a row of the identity.</summary>
    private static string ClassOneHot(GraphBuilder graph, int classes)
    {
        graph.Input(ClassInput, TensorProto.Types.DataType.Int64);
        var identity = new float[classes * classes];
        for (int c = 0; c < classes; c++) identity[c * classes + c] = 1;
        return graph.Node("Gather", [graph.Floats("class_one_hot", identity, classes, classes), ClassInput], Attribute("axis", 0));
    }

    /// <summary>
    /// x [n, nz + classes] with its latent multiplied by its class's matrix: the one-hot picks each row's matrix as a
    /// product ([n, classes] x [classes, nz*nz]), then a batched product with the latent, as ClassLatentScales.Apply does.
    /// </summary>
    private static string ClassScaled(GraphBuilder graph, string x, ClassLatentScales scales)
    {
        int nz = scales.LatentSize;
        string Columns(long from, long to) =>
            graph.Node("Slice", [x, graph.Longs("starts", [from]), graph.Longs("ends", [to]), graph.Longs("axes", [1])]);
        string latent = Columns(0, nz), oneHot = Columns(nz, nz + scales.Classes);
        string matrices = graph.Node("Reshape", [graph.Node("MatMul", [oneHot, graph.Floats("class_scales", scales.Values, scales.Classes, (long)nz * nz)]),
            graph.Longs("shape", [-1, nz, nz])]);
        string scaled = graph.Node("MatMul", [matrices, graph.Node("Reshape", [latent, graph.Longs("shape", [-1, nz, 1])])]);
        return graph.Node("Concat", [graph.Node("Reshape", [scaled, graph.Longs("shape", [-1, nz])]), oneHot], Attribute("axis", 1));
    }

    /// <summary>
    /// The layers as ONNX nodes after x, each (transposed) convolution with the BatchNorm after it folded in. oneHot: the
    /// graph's one-hot class, which the layers that take the class read; null where the graph has no class input.
    /// </summary>
    private static string AppendLayers(GraphBuilder graph, string x, IReadOnlyList<InferenceLayer> layers, string? oneHot)
    {
        string OneHot(InferenceLayer layer) => oneHot ?? throw new InvalidOperationException($"a {layer.GetType().Name} needs the class, and this graph has no class input");
        for (int i = 0; i < layers.Count; i++)
        {
            var next = i + 1 < layers.Count ? layers[i + 1] : null;
            if (next is BatchNormLayer bn && layers[i] is TransposedConvolutionLayer or ConvolutionLayer)
            {
                x = layers[i] is TransposedConvolutionLayer convT ? graph.TransposedConvolution(x, FoldBatchNorm(convT, bn)) : graph.Convolution(x, FoldBatchNorm((ConvolutionLayer)layers[i], bn));
                i++;
                continue;
            }
            x = layers[i] switch
            {
                ClassLatentScales scales => ClassScaled(graph, x, scales),
                ClassShiftLayer shift => graph.Node("Add", [x, graph.Node("Reshape", [graph.Node("MatMul", [OneHot(shift), graph.Floats("class_shift", shift.Table, shift.Classes, shift.Channels)]),
                    graph.Longs("shape", [-1, shift.Channels, 1, 1])])]),
                AppendClassLayer append => graph.Node("Concat", [x, OneHot(append)], Attribute("axis", 1)),
                FirstColumnsLayer first => graph.Node("Slice", [x, graph.Longs("starts", [0]), graph.Longs("ends", [first.Count]), graph.Longs("axes", [1])]),
                LinearLayer linear => graph.Node("Gemm", [x, graph.Floats("weight", linear.Weight, linear.Out, linear.In), graph.Floats("bias", linear.Bias, linear.Out)],
                    Attribute("transB", 1)),
                ToFeatureMaps maps => graph.Node("Reshape", [x, graph.Longs("shape", [-1, maps.Channels, maps.Height, maps.Width])]),
                FlattenLayer => graph.Node("Flatten", [x], Attribute("axis", 1)),
                TransposedConvolutionLayer plain => graph.TransposedConvolution(x, plain),
                ConvolutionLayer plain => graph.Convolution(x, plain),
                BatchNormLayer alone => graph.Node("BatchNormalization", [x, graph.Floats("scale", alone.Weight, alone.Channels), graph.Floats("shift", alone.Bias, alone.Channels),
                    graph.Floats("mean", alone.RunningMean, alone.Channels), graph.Floats("var", alone.RunningVar, alone.Channels)], Attribute("epsilon", (float)alone.Eps)),
                ReluLayer => graph.Node("Relu", [x]),
                LeakyReluLayer leaky => graph.Node("LeakyRelu", [x], Attribute("alpha", leaky.Slope)),
                TanhLayer { Scale: 1 } => graph.Node("Tanh", [x]),
                TanhLayer tanh => graph.Node("Tanh", [graph.Node("Mul", [x, graph.Floats("half", [tanh.Scale])])]),
                var other => throw new NotSupportedException($"ONNX export has no operator for {other.GetType().Name}"),
            };
        }
        return x;
    }

    private static ModelProto Model(GraphBuilder graph, CheckpointHeader header, bool averaged, string description)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion, ProducerName = "ImageGen", ProducerVersion = ProducerVersion, Domain = "imagegen", DocString = description, Graph = graph.Graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        model.MetadataProps.Add(new StringStringEntryProto { Key = SpecKey, Value = JsonSerializer.Serialize(header.Spec, Json.Compact) });
        model.MetadataProps.Add(new StringStringEntryProto { Key = ClassesKey, Value = JsonSerializer.Serialize(header.Classes) });
        if (header.ClassSizes.Count > 0) model.MetadataProps.Add(new StringStringEntryProto { Key = ClassSizesKey, Value = JsonSerializer.Serialize(header.ClassSizes) });
        model.MetadataProps.Add(new StringStringEntryProto { Key = StepKey, Value = header.Step.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        model.MetadataProps.Add(new StringStringEntryProto { Key = AveragedKey, Value = averaged ? "true" : "false" });
        // Also in the protobuf's own fields; repeated here because ONNX Runtime reports the producer's name alone.
        model.MetadataProps.Add(new StringStringEntryProto { Key = ProducerKey, Value = $"ImageGen {ProducerVersion}, opset {Opset}" });
        return model;
    }

    /// <summary>
    /// The transposed convolution with the eval-mode BatchNorm after it folded in: output channel o scaled by
    /// weight_o / sqrt(var_o + eps), and shifted to bias_o - mean_o times that scale (computed in double).
    /// </summary>
    public static TransposedConvolutionLayer FoldBatchNorm(TransposedConvolutionLayer convT, BatchNormLayer bn)
    {
        var (scale, bias) = Fold(bn, convT.Bias, convT.Out);
        var weight = new float[convT.Weight.Length];
        int perOut = convT.Kernel * convT.Kernel;
        for (int i = 0; i < convT.In; i++)
            for (int o = 0; o < convT.Out; o++)
                for (int k = 0; k < perOut; k++)
                {
                    int at = (i * convT.Out + o) * perOut + k; // weight [In, Out, K, K]
                    weight[at] = (float)(convT.Weight[at] * scale[o]);
                }
        return convT with { Weight = weight, Bias = bias };
    }

    /// <summary>The convolution with the eval-mode BatchNorm after it folded in, the same way (weight [Out, In, K, K]).</summary>
    public static ConvolutionLayer FoldBatchNorm(ConvolutionLayer conv, BatchNormLayer bn)
    {
        var (scale, bias) = Fold(bn, conv.Bias, conv.Out);
        var weight = new float[conv.Weight.Length];
        int perOut = conv.In * conv.Kernel * conv.Kernel;
        for (int o = 0; o < conv.Out; o++)
            for (int k = 0; k < perOut; k++) weight[o * perOut + k] = (float)(conv.Weight[o * perOut + k] * scale[o]);
        return conv with { Weight = weight, Bias = bias };
    }

    /// <summary>BatchNorm's per-channel scale weight / sqrt(var + eps), and the layer's bias shifted through it: (bias - mean) * scale + shift.</summary>
    private static (double[] Scale, float[] Bias) Fold(BatchNormLayer bn, float[]? bias, int channels)
    {
        if (bn.Channels != channels) throw new ArgumentException($"BatchNorm of {bn.Channels} channels after a layer of {channels}");
        var scale = new double[channels];
        var folded = new float[channels];
        for (int o = 0; o < channels; o++)
        {
            scale[o] = bn.Weight[o] / Math.Sqrt(bn.RunningVar[o] + bn.Eps);
            folded[o] = (float)(((bias?[o] ?? 0) - bn.RunningMean[o]) * scale[o] + bn.Bias[o]);
        }
        return (scale, folded);
    }

    private static AttributeProto Attribute(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
    private static AttributeProto Attribute(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };
    private static AttributeProto Attribute(string name, long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.Add(values);
        return attribute;
    }

    /// <summary>Names values and nodes in order (node_3, convt_3.weight) and collects them into one graph.</summary>
    private sealed class GraphBuilder(string name)
    {
        public GraphProto Graph { get; } = new() { Name = name };
        private int nodes;

        public void Input(string input, TensorProto.Types.DataType type, params long[] featureDims) => Graph.Input.Add(Value(input, type, featureDims));

        public void Output(string from, string output, params long[] featureDims)
        {
            Graph.Node.Add(new NodeProto { OpType = "Identity", Name = output, Input = { from }, Output = { output } });
            Graph.Output.Add(Value(output, TensorProto.Types.DataType.Float, featureDims));
        }

        /// <summary>A value of shape [batch, featureDims...], batch named and dynamic.</summary>
        private static ValueInfoProto Value(string name, TensorProto.Types.DataType type, long[] featureDims)
        {
            var shape = new TensorShapeProto();
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
            foreach (long dim in featureDims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = dim });
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
        }

        public string Node(string opType, string[] inputs, params AttributeProto[] attributes)
        {
            string output = $"{opType.ToLowerInvariant()}_{nodes++}";
            var node = new NodeProto { OpType = opType, Name = output };
            node.Input.Add(inputs);
            node.Output.Add(output);
            node.Attribute.Add(attributes);
            Graph.Node.Add(node);
            return output;
        }

        public string TransposedConvolution(string x, TransposedConvolutionLayer convT)
        {
            string weight = Floats("weight", convT.Weight, convT.In, convT.Out, convT.Kernel, convT.Kernel);
            string[] inputs = convT.Bias is null ? [x, weight] : [x, weight, Floats("bias", convT.Bias, convT.Out)];
            return Node("ConvTranspose", inputs, Attribute("kernel_shape", [convT.Kernel, convT.Kernel]), Attribute("strides", [convT.Stride, convT.Stride]),
                Attribute("pads", [convT.Padding, convT.Padding, convT.Padding, convT.Padding]));
        }

        public string Convolution(string x, ConvolutionLayer conv)
        {
            string weight = Floats("weight", conv.Weight, conv.Out, conv.In, conv.Kernel, conv.Kernel);
            string[] inputs = conv.Bias is null ? [x, weight] : [x, weight, Floats("bias", conv.Bias, conv.Out)];
            return Node("Conv", inputs, Attribute("kernel_shape", [conv.Kernel, conv.Kernel]), Attribute("strides", [conv.Stride, conv.Stride]),
                Attribute("pads", [conv.Padding, conv.Padding, conv.Padding, conv.Padding]));
        }

        /// <summary>A float initializer (little-endian raw data) named for the node that uses it next.</summary>
        public string Floats(string role, float[] values, params long[] dims)
        {
            var tensor = new TensorProto { Name = $"node_{nodes}.{role}", DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
            tensor.Dims.Add(dims.Length == 0 ? [values.Length] : dims);
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw data is little-endian");
            Graph.Initializer.Add(tensor);
            return tensor.Name;
        }

        /// <summary>A rank-0 float initializer.</summary>
        public string Scalar(string role, float value)
        {
            var tensor = new TensorProto { Name = $"node_{nodes}.{role}", DataType = (int)TensorProto.Types.DataType.Float };
            tensor.FloatData.Add(value);
            Graph.Initializer.Add(tensor);
            return tensor.Name;
        }

        public string Longs(string role, long[] values)
        {
            var tensor = new TensorProto { Name = $"node_{nodes}.{role}", DataType = (int)TensorProto.Types.DataType.Int64 };
            tensor.Dims.Add(values.Length);
            tensor.Int64Data.Add(values);
            Graph.Initializer.Add(tensor);
            return tensor.Name;
        }
    }
}
