using System.Text;
using System.Text.Json;
using ImageGen.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Checkpoints;

/// <summary>
/// One file: magic, a JSON header, then named length-prefixed sections (module weights in TorchSharp's
/// format, optimizer states, RNG state). A reader can pull the generator alone and skip the rest.
/// </summary>
public static class Checkpoint
{
    private static readonly byte[] Magic = "IGCKPT01"u8.ToArray();
    public const string FileName = "checkpoint.ckpt";

    public static void Write(string path, CheckpointHeader header, IReadOnlyList<(string name, Action<BinaryWriter> write)> sections)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            Write(file, header, sections);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true); // readers never see a half-written checkpoint
    }

    public static void Write(Stream stream, CheckpointHeader header, IReadOnlyList<(string name, Action<BinaryWriter> write)> sections)
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(JsonSerializer.Serialize(header, Json.Compact));
        writer.Write(sections.Count);
        foreach (var (name, write) in sections)
        {
            using var buffer = new MemoryStream();
            using (var sectionWriter = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true)) write(sectionWriter);
            writer.Write(name);
            writer.Write(buffer.Length);
            buffer.Position = 0;
            buffer.CopyTo(stream);
        }
    }

    public static CheckpointHeader ReadHeader(string path)
    {
        using var file = File.OpenRead(path);
        return ReadHeader(new BinaryReader(file));
    }

    private static CheckpointHeader ReadHeader(BinaryReader reader)
    {
        var magic = reader.ReadBytes(Magic.Length);
        if (!magic.AsSpan().SequenceEqual(Magic))
            throw new InvalidDataException("not an ImageGen checkpoint (bad magic)");
        return JsonSerializer.Deserialize<CheckpointHeader>(reader.ReadString(), Json.Options)
            ?? throw new InvalidDataException("checkpoint header is empty");
    }

    /// <summary>Reads the header and the raw bytes of each wanted section (all when wanted is null).</summary>
    public static (CheckpointHeader header, Dictionary<string, byte[]> sections) Read(Stream stream, ISet<string>? wanted = null)
    {
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        var header = ReadHeader(reader);
        int count = reader.ReadInt32();
        var sections = new Dictionary<string, byte[]>();
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            long length = reader.ReadInt64();
            if (wanted is null || wanted.Contains(name)) sections[name] = reader.ReadBytes(checked((int)length));
            else if (stream.CanSeek) stream.Seek(length, SeekOrigin.Current);
            else reader.ReadBytes(checked((int)length));
        }
        return (header, sections);
    }

    public static (CheckpointHeader header, Dictionary<string, byte[]> sections) Read(string path, ISet<string>? wanted = null)
    {
        using var file = File.OpenRead(path);
        return Read(file, wanted);
    }

    /// <summary>A checkpoint path: the file itself, or a run folder holding checkpoint.ckpt.</summary>
    public static string Resolve(string fileOrRunFolder)
    {
        if (File.Exists(fileOrRunFolder)) return fileOrRunFolder;
        string inFolder = Path.Combine(fileOrRunFolder, FileName);
        if (File.Exists(inFolder)) return inFolder;
        throw new FileNotFoundException($"no checkpoint at '{fileOrRunFolder}' (looked for the file and for {FileName} inside it)");
    }

    public static Action<BinaryWriter> ModuleSection(nn.Module module) => w => module.save(w);
    public static void LoadModule(nn.Module module, byte[] bytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes));
        module.load(reader, strict: true);
    }

    public static Action<BinaryWriter> RngSection() => w =>
    {
        using var state = torch.random.get_rng_state();
        var bytes = state.data<byte>().ToArray();
        w.Write(bytes.Length);
        w.Write(bytes);
    };

    public static void RestoreRng(byte[] section)
    {
        using var reader = new BinaryReader(new MemoryStream(section));
        var bytes = reader.ReadBytes(reader.ReadInt32());
        using var state = torch.tensor(bytes, dtype: ScalarType.Byte);
        torch.random.set_rng_state(state);
    }
}
