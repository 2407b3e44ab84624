return await Lamina.Serve.ServeHost.RunAsync(args);
