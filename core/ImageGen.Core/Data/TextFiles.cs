namespace ImageGen.Core.Data;

/// <summary>Text files users write by hand (imagegen.json, labels.json, labels.csv).</summary>
public static class TextFiles
{
    /// <summary>
    /// The text without a leading UTF-8 byte-order mark, which some editors write (Windows Notepad) and decoders keep as
    /// U+FEFF: JSON refuses it, and in a CSV it would become part of the first image's name.
    /// </summary>
    public static string WithoutByteOrderMark(string text) => text.StartsWith('\uFEFF') ? text[1..] : text;
}
