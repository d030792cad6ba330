using Vigil.Server.Cli;

namespace Vigil.Server;

/// <summary>The <c>vigil</c> command line: one verb per job, each with its own <c>--help</c>.</summary>
public static class Program
{
    internal const string Usage = """
        vigil — real-time user-behaviour analytics and threat detection

        Usage: ./vigil VERB [flags]      (./vigil VERB --help for the flags of a verb)

          serve      the whole pipeline: Kafka → detection → storage, dashboard and API on http://127.0.0.1:8082.
                     With no configuration: an embedded Kafka-protocol broker, the built-in simulator and SQLite
                     under ./data. KAFKA_BOOTSTRAP_SERVERS and POSTGRES_URL point it at real ones.
          simulate   deterministic user-service traffic with labelled attack campaigns, to a file or to Kafka.
          replay     the same decoder and rules over a JSON-lines file, as fast as they go; prints a JSON summary.
          broker     the embedded Kafka-protocol broker as its own process; prints its bootstrap address.
          eval       precision, recall and false positives of replayed alerts against the simulator's labels.
          bench      the benchmark harness: bench core | e2e, each side by side with its limit or a peer (JSON out).
          ml         machine learning tools: ml iforest fits and scores an isolation forest on a labelled CSV (JSON out).
        """;

    public static async Task<int> Main(string[] args)
    {
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
            {
                ctx.Cancel = true;
                cts.Cancel();
            });

        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Out.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        var rest = args[1..];
        try
        {
            return args[0] switch
            {
                "serve" => await ServeCommand.RunAsync(rest, cts.Token),
                "simulate" => await SimulateCommand.RunAsync(rest, cts.Token),
                "replay" => await ReplayCommand.RunAsync(rest, Console.Out, cts.Token),
                "broker" => await BrokerCommand.RunAsync(rest, cts.Token),
                "ml" when rest is ["features" or "kmeans", ..] => await MlFeaturesCommand.RunAsync(rest, cts.Token),
                "ml" => await MlCommand.RunAsync(rest, cts.Token),
                "eval" => await EvalCommand.RunAsync(rest, cts.Token),
                "bench" => await BenchCommand.RunAsync(rest, cts.Token),
                "--version" or "version" => Version(),
                _ => throw new UsageException($"unknown verb '{args[0]}'. Run ./vigil --help for the list."),
            };
        }
        catch (UsageException ex)
        {
            await Console.Error.WriteLineAsync($"vigil {args[0]}: {ex.Message}");
            return 2;
        }
        catch (Hosting.OptionsException ex)
        {
            await Console.Error.WriteLineAsync($"vigil {args[0]}: {ex.Message}");
            return 3;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return 130;
        }
    }

    private static int Version()
    {
        Console.Out.WriteLine(typeof(Program).Assembly.GetName().Version?.ToString(3));
        return 0;
    }
}
