using Microsoft.AspNetCore.Diagnostics;
using Virt.Panel.Security;

namespace Virt.Panel.Api;

/// <summary>
/// SDK errors as JSON with a status chosen by their <see cref="VirtErrorKind"/>; the message names the object and the fix. Paths under
/// the state directory are shown as <c>STATE/...</c>; an unexpected error (500) shows only its type — its message
/// and stack trace go to the panel's log, never to the client.
/// </summary>
internal static partial class ErrorResponses
{
    public static async Task WriteAsync(HttpContext context)
    {
        var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        var status = exception switch
        {
            BadHttpRequestException bad => bad.StatusCode,
            _ => StatusFor(VirtErrors.KindOf(exception)),
        };
        context.Response.StatusCode = status;
        string message;
        if (status == StatusCodes.Status500InternalServerError || exception is null)
        {
            LogUnexpected(context.RequestServices.GetRequiredService<ILogger<PanelTasks>>(), exception, context.Request.Method);
            message = "the panel failed unexpectedly; its log has the details";
        }
        else
        {
            message = context.RequestServices.GetRequiredService<StatePaths>().Redact(exception.Message);
        }

        await context.Response.WriteAsJsonAsync(new { error = message, type = exception?.GetType().Name });
    }

    /// <summary>
    /// One status per error category. A host program that failed (QEMU, lxc-start, qemu-img) is a 502: the panel is the
    /// gateway to the host, and the SDK's message says what the program said; only an error the SDK does not describe
    /// (a bug) is a 500 whose message stays in the log.
    /// </summary>
    private static int StatusFor(VirtErrorKind? kind) => kind switch
    {
        VirtErrorKind.NotFound => StatusCodes.Status404NotFound,
        VirtErrorKind.InvalidInput => StatusCodes.Status400BadRequest,
        VirtErrorKind.Conflict or VirtErrorKind.Refused => StatusCodes.Status409Conflict,
        VirtErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        VirtErrorKind.Timeout => StatusCodes.Status504GatewayTimeout,
        VirtErrorKind.Failed => StatusCodes.Status502BadGateway,
        _ => StatusCodes.Status500InternalServerError,
    };

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Virt.Panel: {Method} request failed unexpectedly")]
    private static partial void LogUnexpected(ILogger logger, Exception? exception, string method);
}
