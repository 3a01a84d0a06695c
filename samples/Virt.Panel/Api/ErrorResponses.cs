using Microsoft.AspNetCore.Diagnostics;
using Virt.Panel.Security;

namespace Virt.Panel.Api;

/// <summary>
/// SDK errors as JSON with a status that means something; the message names the object and the fix. Paths under
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
            Virt.VirtualMachines.VmNotFoundException or Virt.Containers.ContainerNotFoundException or Virt.Storage.StoragePoolNotFoundException
                or Virt.Storage.VolumeNotFoundException or Virt.Passthrough.PciDeviceNotFoundException => StatusCodes.Status404NotFound,
            Virt.VirtualMachines.InvalidVmSpecException or Virt.Containers.InvalidContainerSpecException or ArgumentException or FormatException => StatusCodes.Status400BadRequest,
            BadHttpRequestException bad => bad.StatusCode,
            Virt.VirtualMachines.VmAlreadyExistsException or Virt.Containers.ContainerAlreadyExistsException or VirtException => StatusCodes.Status409Conflict,
            TimeoutException => StatusCodes.Status504GatewayTimeout,
            _ => StatusCodes.Status500InternalServerError,
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

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Virt.Panel: {Method} request failed unexpectedly")]
    private static partial void LogUnexpected(ILogger logger, Exception? exception, string method);
}
