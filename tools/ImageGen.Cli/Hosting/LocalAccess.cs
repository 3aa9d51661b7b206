using System.Net;
using ImageGen.Pipeline.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace ImageGen.Cli.Hosting;

/// <summary>
/// Who may reach the local hosts (imagegen host, imagegen serve), which have no function keys: by default this machine
/// only. Addresses must be loopback unless <see cref="AllowRemote"/>; and a request must name the server as localhost,
/// 127.0.0.1 or [::1] (or one of <see cref="AllowedHosts"/>) in its Host header, so a page whose DNS name is rebound to
/// 127.0.0.1 cannot call the endpoints from the user's browser.
/// </summary>
public sealed record LocalAccess
{
    public static readonly IReadOnlyList<string> LoopbackNames = ["localhost", "127.0.0.1", "[::1]"];

    /// <summary>Lets the host listen beyond loopback (--allow-remote); without it a wider address is refused at start.</summary>
    public bool AllowRemote { get; init; }
    /// <summary>Host names accepted besides the loopback ones (--allowed-hosts); "*" accepts any and gives up the DNS-rebinding check.</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    /// <summary>From --allow-remote and --allowed-hosts a,b,c.</summary>
    public static LocalAccess FromArgs(Args args) => new()
    {
        AllowRemote = args.Has("--allow-remote"),
        AllowedHosts = args.String("--allowed-hosts")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [],
    };

    /// <summary>Refuses listening addresses (the --urls list, ';'-separated) beyond loopback unless remote access was asked for.</summary>
    public void CheckAddresses(IEnumerable<string> urls, string what)
    {
        if (AllowRemote) return;
        foreach (var url in urls)
            if (!IsLoopbackUrl(url))
                throw new ArgumentException($"{what} '{url}' would listen beyond this machine, and the local host has no keys: " +
                                            "use 127.0.0.1, [::1] or localhost, or add --allow-remote to mean it");
    }

    public static bool IsLoopbackUrl(string url)
    {
        string host = BindingAddress.Parse(url.Trim()).Host;
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
               || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
    }

    private bool IsAllowedHost(HostString host) =>
        host.HasValue && (LoopbackNames.Concat(AllowedHosts).Any(name => name == "*" || name.Equals(host.Host, StringComparison.OrdinalIgnoreCase)));

    /// <summary>Adds the Host check in front of every endpoint; call before mapping routes.</summary>
    public void Apply(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            if (!IsAllowedHost(context.Request.Host))
            {
                var error = new ApiError(421, $"this server answers to {string.Join(", ", LoopbackNames.Concat(AllowedHosts))}, " +
                                              $"not Host '{context.Request.Host}'; start it with --allowed-hosts to add a name", "Host", string.Join(", ", LoopbackNames.Concat(AllowedHosts)));
                await ApiResultWriter.WriteAsync(context.Response, ApiResult.Error(error));
                return;
            }
            await next(context);
        });
    }

    /// <summary>
    /// Checks the addresses the server actually bound, which configuration (Kestrel:Endpoints, ASPNETCORE_URLS) may have
    /// widened past what --urls said; call right after StartAsync and stop the host if it throws.
    /// </summary>
    public void CheckBound(WebApplication app) =>
        CheckAddresses(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [], "bound address");
}
