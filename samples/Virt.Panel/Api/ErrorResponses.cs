using Microsoft.AspNetCore.Diagnostics;

namespace Virt.Panel.Api;

/// <summary>SDK errors as JSON with a status that means something; the message names the object and the fix.</summary>
internal static class ErrorResponses
{
    public static async Task WriteAsync(HttpContext context)
    {
        var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        context.Response.StatusCode = exception switch
        {
            Virt.VirtualMachines.VmNotFoundException or Virt.Containers.ContainerNotFoundException or Virt.Storage.StoragePoolNotFoundException
                or Virt.Storage.VolumeNotFoundException or Virt.Passthrough.PciDeviceNotFoundException => StatusCodes.Status404NotFound,
            Virt.VirtualMachines.InvalidVmSpecException or Virt.Containers.InvalidContainerSpecException or ArgumentException or FormatException
                or BadHttpRequestException => StatusCodes.Status400BadRequest,
            Virt.VirtualMachines.VmAlreadyExistsException or Virt.Containers.ContainerAlreadyExistsException or VirtException => StatusCodes.Status409Conflict,
            TimeoutException => StatusCodes.Status504GatewayTimeout,
            _ => StatusCodes.Status500InternalServerError,
        };
        await context.Response.WriteAsJsonAsync(new { error = exception?.Message ?? "unknown error", type = exception?.GetType().Name });
    }
}
