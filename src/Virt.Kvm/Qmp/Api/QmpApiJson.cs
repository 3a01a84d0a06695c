using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Virt.Kvm.Qmp.Api;

/// <summary>The JSON settings of the generated QMP types, for applications that store or log them.</summary>
public static class QmpApiJson
{
    /// <summary>Options whose resolver knows every generated type (source-generated, AOT-safe).</summary>
    public static JsonSerializerOptions Options => QmpApiJsonContext.Default.Options;

    /// <summary>The source-generated metadata of one generated type.</summary>
    /// <typeparam name="T">A generated type, e.g. <see cref="QueryStatusResult"/>.</typeparam>
    /// <returns>Its metadata.</returns>
    /// <exception cref="NotSupportedException">T is not a generated QMP type.</exception>
    public static JsonTypeInfo<T> TypeInfo<T>() => (JsonTypeInfo<T>)QmpApiJsonContext.Default.GetTypeInfo(typeof(T))!;
}
