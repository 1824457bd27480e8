from .app import DebuggerApp

if __name__ == "__main__":
    DebuggerApp().run()
