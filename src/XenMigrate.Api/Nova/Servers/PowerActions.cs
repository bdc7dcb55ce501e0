using XenMigrate.Domain.Servers;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// The power actions (<c>os-stop</c>, <c>os-start</c>, <c>pause</c>, <c>unpause</c>, <c>suspend</c>,
/// <c>resume</c>). Their bodies are not read (Nova takes null, {} or anything under the action's key).
/// </summary>
public static partial class ServerActionsApi
{
    private static PowerAction? PowerActionFor(string action) => action switch
    {
        "os-stop" => PowerAction.Stop,
        "os-start" => PowerAction.Start,
        "pause" => PowerAction.Pause,
        "unpause" => PowerAction.Unpause,
        "suspend" => PowerAction.Suspend,
        "resume" => PowerAction.Resume,
        _ => null,
    };
}
