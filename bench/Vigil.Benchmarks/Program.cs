using BenchmarkDotNet.Running;

namespace Vigil.Benchmarks;

public static class Program
{
    public static void Main(string[] args)
    {
        // `state [users] [geo-dir]`: the per-idle-user state footprint, a heap measurement rather than a timing.
        if (args.Length > 0 && args[0] == "state")
        {
            var users = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200_000;
            StateFootprint.Run(users, args.Length > 2 ? args[2] : "data/geo");
            return;
        }
        if (args.Length > 0 && args[0] == "state-active")
        {
            StateFootprint.RunActive(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200_000);
            return;
        }
        if (args.Length > 1 && args[0] == "window-allocs" && args[1] == "resizes")
        {
            WindowAllocations.CountResizes(args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10);
            return;
        }
        if (args.Length > 0 && args[0] == "window-allocs")
        {
            WindowAllocations.Run(args.Length > 1 ? args[1] : "sliding-distinct-panes",
                args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10);
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
