using static TorchSharp.torch;
class P{static void Main(){ var t = ones(3,3); System.Console.WriteLine(t.sum().item<float>()); }}
