using Lamina.Core;

namespace Lamina.Lab;

/// <summary>The errors of fine-tuning (<c>init_from</c>), of training on several loaders, and of comparing models.</summary>
public partial class LabException
{
    internal static LabException ParentNotAHead(string reference, Guid run, string model, string kind) =>
        new($"init_from: '{reference}' is model '{model}' of run {run} (kind '{kind}'), not a head trained on a backbone; " +
            "only a model trained by a training task can be fine-tuned")
        { At = "init_from", Kind = LaminaErrorKind.Validation };

    internal static LabException ParentHeadUnreadable(string source, string why) =>
        new($"init_from: the parent's head {source} cannot be read: {why}") { At = source, Kind = LaminaErrorKind.Integrity };

    internal static LabException ParentBackboneDiffers(string parent, string parentBackbone, string parentSha256, string child, string childSha256) =>
        new($"init_from: parent {parent} was trained on backbone '{parentBackbone}' sha256 {parentSha256[..12]}, but model '{child}' uses a backbone " +
            $"with sha256 {childSha256[..12]}; a head only fits the backbone it was trained on")
        { At = "init_from", Kind = LaminaErrorKind.Validation };

    internal static LabException ParentClassesDiffer(string parent, IEnumerable<string> parentClasses, string child, IEnumerable<string> childClasses) =>
        new($"init_from: parent {parent} predicts [{string.Join(", ", parentClasses)}] but model '{child}' is trained on [{string.Join(", ", childClasses)}]; " +
            "fine-tuning keeps the classes")
        { At = "init_from", Kind = LaminaErrorKind.Validation };

    internal static LabException ParentHeadDiffers(string parent, string child, IEnumerable<string> problems) =>
        new($"init_from: the head of parent {parent} does not have the layers of model '{child}': {string.Join("; ", problems)}")
        { At = "init_from", Kind = LaminaErrorKind.Validation };

    internal static LabException LoaderClassesDiffer(string first, IEnumerable<string> firstClasses, string other, IEnumerable<string> otherClasses) =>
        new($"train_loaders: loader '{first}' labels [{string.Join(", ", firstClasses)}] but loader '{other}' labels [{string.Join(", ", otherClasses)}]; " +
            "the loaders of one training task must label the same classes in the same order")
        { At = $"loaders.{other}", Kind = LaminaErrorKind.Validation };

    internal static LabException ModelsDisagree(string first, IEnumerable<string> firstClasses, string other, IEnumerable<string> otherClasses) =>
        new($"models: '{first}' predicts [{string.Join(", ", firstClasses)}] but '{other}' predicts [{string.Join(", ", otherClasses)}]; " +
            "models compared side by side must predict the same classes")
        { At = "models", Kind = LaminaErrorKind.Validation };
}
