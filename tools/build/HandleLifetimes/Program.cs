using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Mono.Cecil;
using Mono.Cecil.Cil;
using Mono.Cecil.Rocks;

/// <summary>
/// Rewrites TorchSharp.dll so each method keeps its Scalar, Tensor and Generator arguments, `this` and locals
/// reachable until it returns (see ../TorchSharpLifetimes.targets for the race this closes).
/// Usage: HandleLifetimes PATH/TorchSharp.dll [...]
/// </summary>
public static class HandleLifetimes
{
    public const string Marker = "ImageGen.HandleLifetimes";

    public static int Main(string[] args)
    {
        foreach (string path in args)
        {
            string woven = path + ".lifetimes";
            int methods;
            using (var resolver = new DefaultAssemblyResolver())
            {
                resolver.AddSearchDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                using (var assembly = AssemblyDefinition.ReadAssembly(path, new ReaderParameters { AssemblyResolver = resolver }))
                {
                    if (assembly.CustomAttributes.Any(IsMarker)) continue;
                    methods = Weave(assembly.MainModule);
                    var module = assembly.MainModule;
                    var metadata = typeof(System.Reflection.AssemblyMetadataAttribute);
                    var ctor = module.ImportReference(metadata.GetConstructor([typeof(string), typeof(string)]));
                    var marker = new CustomAttribute(ctor);
                    marker.ConstructorArguments.Add(new CustomAttributeArgument(module.TypeSystem.String, Marker));
                    marker.ConstructorArguments.Add(new CustomAttributeArgument(module.TypeSystem.String, methods.ToString()));
                    assembly.CustomAttributes.Add(marker);
                    assembly.Write(woven);
                }
            }
            File.Delete(path);
            File.Move(woven, path);
            Console.WriteLine($"Kept TorchSharp handle owners alive to the end of {methods} methods in {path}");
        }
        return 0;
    }

    private static bool IsMarker(CustomAttribute a) =>
        a.AttributeType.Name == "AssemblyMetadataAttribute" && a.ConstructorArguments.Count == 2
        && (string)a.ConstructorArguments[0].Value == Marker;

    /// <summary>Scalar, Tensor (Parameter included) and Generator: the finalizable owners of native handles.</summary>
    private static bool OwnsHandle(TypeReference type)
    {
        if (type.IsByReference || type.IsPointer || type.IsArray || type.IsGenericParameter || type.IsValueType) return false;
        for (var d = Resolve(type); d != null; d = d.BaseType == null ? null : Resolve(d.BaseType))
            if (d.FullName == "TorchSharp.Scalar" || d.FullName == "TorchSharp.torch/Tensor" || d.FullName == "TorchSharp.torch/Generator")
                return true;
        return false;
    }

    private static TypeDefinition? Resolve(TypeReference type)
    {
        try { return type.Resolve(); } catch (AssemblyResolutionException) { return null; }
    }

    private static int Weave(ModuleDefinition module)
    {
        var keepAlive = module.ImportReference(typeof(GC).GetMethod("KeepAlive"));
        int methods = 0;
        foreach (var type in module.GetTypes())
        foreach (var method in type.Methods)
        {
            if (!method.HasBody) continue;
            var body = method.Body;
            var il = body.GetILProcessor();
            var loads = new List<Func<Instruction>>();
            if (method.HasThis && !type.IsValueType && OwnsHandle(type)) loads.Add(() => il.Create(OpCodes.Ldarg_0));
            foreach (var p in method.Parameters)
                if (OwnsHandle(p.ParameterType)) { var arg = p; loads.Add(() => il.Create(OpCodes.Ldarg, arg)); }
            foreach (var v in body.Variables)
                if (!v.IsPinned && OwnsHandle(v.VariableType)) { var local = v; loads.Add(() => il.Create(OpCodes.Ldloc, local)); }
            if (loads.Count == 0) continue;
            var returns = body.Instructions.Where(i => i.OpCode == OpCodes.Ret).ToList();
            if (returns.Count == 0 || returns.Any(r => r.Previous != null && r.Previous.OpCode == OpCodes.Tail)) continue;
            body.SimplifyMacros(); // long branch forms: the inserted loads move targets further apart
            foreach (var ret in returns)
            {
                // The ret becomes the first load, so branches and handler ends that point at it stay right.
                var first = loads[0]();
                ret.OpCode = first.OpCode;
                ret.Operand = first.Operand;
                var at = ret;
                for (int k = 0; k < loads.Count; k++)
                {
                    if (k > 0) { var load = loads[k](); il.InsertAfter(at, load); at = load; }
                    var call = il.Create(OpCodes.Call, keepAlive);
                    il.InsertAfter(at, call); at = call;
                }
                il.InsertAfter(at, il.Create(OpCodes.Ret));
            }
            body.OptimizeMacros();
            methods++;
        }
        return methods;
    }
}
