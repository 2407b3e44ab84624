using Lamina.Core;
using Lamina.Core.Config;

namespace Lamina.Lab;

/// <summary>
/// The base of every error the lab raises on purpose: experiments and their tasks, data loaders and data sets, model
/// import, the samples and the demo. <see cref="LaminaException.At"/> names the file, key, loader or model at fault.
/// </summary>
public partial class LabException : LaminaException
{
    public LabException(string message, Exception? inner = null) : base(message, inner) { }

    internal static LabException NoSuchTask(string experimentPath, string key, IReadOnlyCollection<string> known) =>
        new($"{experimentPath}: no task named '{key}'{Suggestions.Hint(key, known)} " +
            $"({(known.Count == 0 ? "it declares no tasks" : $"it declares: {string.Join(", ", known.Order(StringComparer.Ordinal))}")})")
        { At = $"{experimentPath}: tasks.{key}", Kind = LaminaErrorKind.NotFound };

    internal static LabException NoSuchModel(string experimentPath, string model, IEnumerable<string> known) =>
        new($"{experimentPath}: no model named '{model}'{Suggestions.Hint(model, known)}") { At = $"{experimentPath}: models.{model}", Kind = LaminaErrorKind.NotFound };

    internal static LabException CannotWrite(string reason, Exception inner) => new(reason, inner);

    internal static LabException NoCheckout(Guid run) =>
        new($"run {run} was not made in a git repository, so there is no checkout of its code to execute it in") { At = run.ToString(), Kind = LaminaErrorKind.Conflict };

    internal static LabException ExperimentOutsideCheckout(Guid run, string experimentFile) =>
        new($"run {run} names its experiment file '{experimentFile}', which is outside its checkout") { At = experimentFile };

    internal static LabException NotReproducible(Guid run, string why) => new($"run {run} {why}") { At = run.ToString(), Kind = LaminaErrorKind.Conflict };

    internal static LabException SecretsNotRecorded(Guid run, IReadOnlyList<string> paths) =>
        new($"run {run} recorded {(paths.Count == 1 ? "a secret" : "secrets")} masked (***), never stored: " +
            $"give {(paths.Count == 1 ? "it" : "them")} again with {string.Join(" ", paths.Select(p => $"--set {p}=VALUE"))}")
        { At = paths[0], Kind = LaminaErrorKind.Usage };

    internal static LabException NotASecret(Guid run, string entry, IReadOnlyList<string> masked) =>
        new($"--set '{entry.Split('=', 2)[0]}': a reproduction runs run {run}'s recorded configuration; --set only gives the secrets it masked" +
            (masked.Count == 0 ? " (it masked none)" : $" ({string.Join(", ", masked)})"))
        { At = "--set", Kind = LaminaErrorKind.Usage };

    internal static LabException ClassesDisagree(string model, IEnumerable<string> modelClasses, string loader, IEnumerable<string> loaderClasses) =>
        new($"model '{model}' predicts [{string.Join(", ", modelClasses)}] but loader '{loader}' labels [{string.Join(", ", loaderClasses)}]")
        { At = $"loaders.{loader}" };

    internal static LabException NothingToTest(string loader) =>
        new($"loader '{loader}' gave no labelled tiles to test on") { At = $"loaders.{loader}" };

    internal static LabException NotATileSource(string loader, string cls, string taskType) =>
        new($"data loader '{loader}' ({cls}) cannot lay out tiles without reading them; a {taskType} task needs a tile source such as DiskLoader")
        { At = $"loaders.{loader}" };

    internal static LabException NoSlides(string loader) =>
        new($"data loader '{loader}' found no slides") { At = $"loaders.{loader}" };

    internal static LabException BadLoaderParameter(string loader, string key, string problem) =>
        new($"{loader}: {key} {problem}") { At = key, Kind = LaminaErrorKind.Validation };

    internal static LabException NoAnnotations(string slideName, string expected) =>
        new($"DiskLoader: no annotations for slide '{slideName}': expected {expected}") { At = expected };

    internal static LabException SplitTooSmall(int training, int validation) =>
        new($"training needs tiles in both splits; the data set has {training} training and {validation} validation tiles " +
            "(more slides, or another validation_split)");

    internal static LabException BackboneChanged(string path, string actual, string expected) =>
        new($"backbone file {path} changed while training (sha256 {actual}, expected {expected})") { At = path, Kind = LaminaErrorKind.Integrity };

    internal static LabException BackboneDataFileName(string path, string name) =>
        new($"backbone {path}: its external data file '{name}' has a name a model package keeps for its own files; save the data under another name") { At = path, Kind = LaminaErrorKind.Validation };

    internal static LabException NoSuchFile(string path) => new($"'{path}' does not exist") { At = path, Kind = LaminaErrorKind.NotFound };

    internal static LabException NoSuchSlide(string path) => new($"slide '{path}' does not exist") { At = path, Kind = LaminaErrorKind.NotFound };

    internal static LabException SlideChanged(string slide, string before, string after) =>
        new($"slide '{slide}' changed while it was tested: sha256 {before}, then {after}") { At = slide, Kind = LaminaErrorKind.Integrity };

    internal static LabException NoSlidesFolder(string folder) => new($"slides folder '{folder}' does not exist") { At = folder, Kind = LaminaErrorKind.NotFound };

    internal static LabException NoSlidesIn(string folder, IEnumerable<string> extensions) =>
        new($"slides folder '{folder}' holds no slides ({string.Join(", ", extensions)})") { At = folder, Kind = LaminaErrorKind.NotFound };

    internal static LabException NoGroundTruth(IReadOnlyList<string> missing) =>
        new($"no ground truth for {missing.Count} slide(s): expected {string.Join(", ", missing)}") { At = missing[0] };

    internal static LabException EmptyManifest() => new("the data set manifest is empty");

    internal static LabException NoMicronsPerPixel(string slide) =>
        new($"slide '{slide}' has no microns per pixel: ground truth distances cannot be compared") { At = slide };

    internal static LabException ImportNeedsClasses() =>
        new("an imported model needs its class labels (--classes a,b,...)") { At = "--classes", Kind = LaminaErrorKind.Usage };

    internal static LabException NotImportable(string path, string problem, Exception? inner = null) =>
        new($"'{path}'{(problem.StartsWith("is ", StringComparison.Ordinal) ? " " : ": ")}{problem}", inner) { At = path, Kind = LaminaErrorKind.Validation };

    internal static LabException NoSuchSample(string name, IEnumerable<string> known) =>
        new($"no sample named '{name}' (known: {string.Join(", ", known)})") { At = name, Kind = LaminaErrorKind.NotFound };

    internal static LabException SampleFileMissing(string name, string file) =>
        new($"sample '{name}' has no file '{file}'") { At = $"{name}/{file}", Kind = LaminaErrorKind.NotFound };

    internal static LabException SampleChanged(string file, string problem) => new($"{file} {problem}") { At = file, Kind = LaminaErrorKind.Integrity };

    internal static LabException OutputNotEmpty(string folder) =>
        new($"'{folder}' already exists and is not empty; choose another --out or remove it") { At = folder, Kind = LaminaErrorKind.Conflict };

    // The code checkout of a remote (or reproduced) run; remotes are named with their credentials masked.

    internal static LabException NoCommit(Guid run) =>
        new($"run {run} was not made in a git repository with a commit, so there is no code to check out") { At = run.ToString(), Kind = LaminaErrorKind.Conflict };

    internal static LabException NoSourceToFetch(Guid run) =>
        new($"run {run} was submitted without a remote or shipped source: submit with --ship-source") { At = run.ToString(), Kind = LaminaErrorKind.Conflict };

    internal static LabException CheckoutExists(string tree) =>
        new($"cannot check out into '{tree}': it already exists") { At = tree, Kind = LaminaErrorKind.Conflict };

    internal static LabException CannotFetch(Guid run, string commit, string remote, string reason, bool network) =>
        new($"cannot fetch commit {commit} of run {run} from {remote}: {reason}") { At = remote, Kind = network ? LaminaErrorKind.Unavailable : LaminaErrorKind.Failed };

    internal static LabException CommitNotOnRemote(Guid run, string commit, string remote) =>
        new($"commit {commit} of run {run} is not in {remote} (fetched): push it and submit again, or submit with --ship-source")
        { At = remote, Kind = LaminaErrorKind.NotFound };

    internal static LabException CommitNotInBundle(Guid run, string commit, string digest) =>
        new($"the source bundle shipped with run {run} (sha256 {digest}) does not hold its commit {commit}") { At = digest, Kind = LaminaErrorKind.Integrity };

    internal static LabException DiffDoesNotApply(Guid run, string digest, string commit, string reason) =>
        new($"the uncommitted diff of run {run} (sha256 {digest}) does not apply to commit {commit}: {reason}") { At = digest, Kind = LaminaErrorKind.Conflict };

    // The run broker (Remote/RunBroker.cs). Broker URIs come here with their password masked already.

    internal static LabException BadBrokerUri(string source, string redactedText, string problem) =>
        new($"{source}: '{redactedText}' is not a broker URI ({problem}); expected amqp://user:password@host[:port][/vhost] or amqps://...")
        { At = source, Kind = LaminaErrorKind.Usage };

    internal static LabException BadQueueName(string queue) =>
        new($"'{queue}' is not a queue name: 1 to 100 letters, digits, '.', '_' or '-'") { At = queue, Kind = LaminaErrorKind.Usage };

    internal static LabException BrokerUnreachable(string broker, string problem, Exception inner) =>
        new($"cannot reach the broker {broker}: {problem}", inner) { At = broker, Kind = LaminaErrorKind.Unavailable };

    internal static LabException BrokerRefusedLogin(string broker, string problem, Exception inner) =>
        new($"the broker {broker} refused the login ({problem}): check the user and password of {Remote.BrokerLocation.Variable}", inner)
        { At = broker, Kind = LaminaErrorKind.Usage };

    internal static LabException BrokerLost(string broker, string doing, string problem, Exception inner) =>
        new($"lost the broker {broker} while {doing}: {problem}", inner) { At = broker, Kind = LaminaErrorKind.Unavailable };

    internal static LabException JobNotConfirmed(string broker, Guid run, string queue, string what, Exception inner) =>
        new($"the broker {broker} {what} the job of run {run} on queue '{queue}'", inner) { At = broker, Kind = LaminaErrorKind.Unavailable };

    internal static LabException QueueDeclaredOtherwise(string broker, string queue, string problem, Exception inner) =>
        new($"the broker {broker} has a queue '{queue}' declared otherwise than Lamina declares it: {problem}", inner)
        { At = queue, Kind = LaminaErrorKind.Conflict };
}

/// <summary>
/// A head, optimiser, loss, metric, augmentation or weights file given something it cannot work with: arguments out of
/// range, arrays whose shapes disagree, a damaged weights file. <see cref="LaminaException.At"/> names the plug-in or
/// parameter.
/// </summary>
public sealed class TrainingException : LabException
{
    public TrainingException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>A parameter out of its range: <c>owner: problem</c>.</summary>
    internal static TrainingException BadParameter(string owner, string problem) => new($"{owner}: {problem}") { At = owner, Kind = LaminaErrorKind.Validation };

    /// <summary>Arrays or layers that do not fit together; a defect of the caller, named by what disagreed.</summary>
    internal static TrainingException Mismatch(string problem) => new(problem);

    /// <summary>Several problems found at once, one a line (or joined by <paramref name="separator"/>).</summary>
    internal static TrainingException Invalid(string prefix, IReadOnlyList<string> problems, string separator) =>
        new(prefix + string.Join(separator, problems));

    internal static TrainingException BadWeightsFile(string problem) => new(problem);
}
