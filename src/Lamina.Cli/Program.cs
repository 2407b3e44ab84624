using Lamina.Cli;

return await LaminaApp.RunAsync(args);
