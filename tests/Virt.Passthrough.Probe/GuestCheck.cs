/// <summary>How the guest-side checks report: "ok: …" per expectation, then one verdict line the host test reads from the serial console.</summary>
internal static class GuestCheck
{
    public static async Task<int> RunAsync(string verdict, Func<Task> check)
    {
        try
        {
            await check().ConfigureAwait(false);
            Console.WriteLine($"{verdict} PASS");
            return 0;
        }
        catch (Exception exception)
        {
            Console.WriteLine($"{verdict} FAIL: {exception.GetType().Name}: {exception.Message}");
            return 1;
        }
    }

    public static void Expect(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException("expected: " + what);
        }

        Console.WriteLine("ok: " + what);
    }
}
