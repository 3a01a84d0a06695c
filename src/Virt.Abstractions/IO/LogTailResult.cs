namespace Virt.IO;

/// <summary>What <see cref="LogTail.ReadAsync"/> read.</summary>
/// <param name="Text">The end of the log, starting at a whole UTF-8 character.</param>
/// <param name="Truncated">True when the log held more than was read (older content was left out).</param>
/// <param name="FileBytes">The live file's size when it was read (0 when there is none).</param>
public sealed record LogTailResult(string Text, bool Truncated, long FileBytes);
