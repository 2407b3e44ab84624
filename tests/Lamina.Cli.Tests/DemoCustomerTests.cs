using System.Text.Json;

namespace Lamina.Cli.Tests;

/// <summary><c>lamina demo --customer</c>: the demo's carcinoma model fine-tuned for a customer who stains otherwise.</summary>
public sealed class DemoCustomerTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();
    private readonly LaminaProcess _lamina;

    public DemoCustomerTests() => _lamina = new LaminaProcess(_temp.Combine("home"));

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Demo_WithCustomer_ShowsTheParentsDropAndTheChildsRecovery_AndTracesTheParent()
    {
        // When the demo runs with the customer's part (small slides, as the serve tests make it)
        var result = await _lamina.RunAsync(TimeSpan.FromMinutes(10), _temp.Path, "demo", "--out", _temp.Combine("demo"), "--slide-size", "4096",
            "--customer", "--json");

        // Then the parent, good on the base laboratory's slides, does worse on the customer's held-out slide, and the child recovers
        Assert.True(result.ExitCode == 0, result.ToString());
        var customer = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("customer");
        Assert.Equal("faded", customer.GetProperty("stain").GetString());
        var (parent, child) = (customer.GetProperty("parent"), customer.GetProperty("child"));
        Assert.True(child.GetProperty("accuracy").GetDouble() > parent.GetProperty("accuracy").GetDouble(), customer.ToString());
        Assert.True(child.GetProperty("accuracy").GetDouble() >= 0.95, customer.ToString());
        Assert.Contains("fine-tuning for the customer: lamina run finetune_customer", result.Stderr);
        var report = File.ReadAllText(customer.GetProperty("report_file").GetString()!);
        Assert.Contains("<th>parent</th><th>child</th>", report);

        // And both customer runs completed; the child's card and trace name the parent, the demo's simple_train run
        var runs = JsonDocument.Parse((await _lamina.RunAsync(_temp.Path, "runs", "list", "--json")).Stdout).RootElement.EnumerateArray().ToList();
        Assert.Equal(["check_normalization", "compare_customer", "finetune_customer", "simple_train", "test_breast_analysis", "train_mitosis"],
            runs.Select(r => r.GetProperty("task_name").GetString()).Order());
        Assert.All(runs, r => Assert.Equal("completed", r.GetProperty("status").GetString()));
        var simpleTrain = runs.Single(r => r.GetProperty("task_name").GetString() == "simple_train").GetProperty("id").GetString()!;
        var fineTune = customer.GetProperty("fine_tune_run").GetString()!;
        var shown = await _lamina.RunAsync(_temp.Path, "models", "show", fineTune[..8]);
        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Contains($"model my_class_model of run {simpleTrain}", shown.Stdout);
        var trace = await _lamina.RunAsync(_temp.Path, "trace", fineTune, "--json");
        Assert.True(trace.ExitCode == 0, trace.ToString());
        Assert.Contains("parent model my_class_model", trace.Stdout);
        Assert.Contains($"run {simpleTrain}", trace.Stdout);
    }
}
