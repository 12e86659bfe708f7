function __cl-worker_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __cl-worker_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __cl-worker_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __cl-worker_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __cl-worker_parse_tokens -S
    set -l unparsed_tokens (__cl-worker_tokens -pc)
    switch $unparsed_tokens[1]
    case 'cl-worker'
        __cl-worker_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'run'
            __cl-worker_parse_subcommand 0 'c/config=' 'log-format=' 'log-level=' 'on-change=' 'json-errors' 'version' 'h/help'
        case 'init'
            __cl-worker_parse_subcommand 0 'root=' 'c/config=' 'json-errors' 'version' 'h/help'
        case 'sync'
            __cl-worker_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'integrity'
                __cl-worker_parse_subcommand 0 'timeout=' 'c/config=' 'log-format=' 'log-level=' 'json-errors' 'version' 'h/help'
            case 'agent-info'
                __cl-worker_parse_subcommand 0 'c/config=' 'json-errors' 'version' 'h/help'
            end
        case 'agents'
            __cl-worker_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'upsert'
                __cl-worker_parse_subcommand 0 'c/config=' 'json-errors' 'version' 'h/help'
            case 'remove'
                __cl-worker_parse_subcommand -r 1 'c/config=' 'json-errors' 'version' 'h/help'
            case 'list'
                __cl-worker_parse_subcommand 0 'c/config=' 'status=' 'nodes=' 'group=' 'select=' 'sort=' 'offset=' 'limit=' 'json-errors' 'version' 'h/help'
            end
        case 'nodes'
            __cl-worker_parse_subcommand 0 'c/config=' 'socket=' 'table' 'json-errors' 'version' 'h/help'
        case 'health'
            __cl-worker_parse_subcommand 0 'c/config=' 'socket=' 'table' 'nodes=' 'json-errors' 'version' 'h/help'
        case 'help'
            __cl-worker_parse_subcommand -r 1 'version'
        end
    end
end

function __cl-worker_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __cl-worker_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __cl-worker_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __cl-worker_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__cl-worker_tokens -p)
    if test -z "$(__cl-worker_tokens -t)"
        set -l index (count (__cl-worker_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'cl-worker' -f
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker" version' -l 'version' -d 'Show the version.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_positional "cl-worker" -eq 1' -fa 'run' -d 'Run the worker daemon in the foreground until SIGTERM or SIGINT.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_positional "cl-worker" -eq 1' -fa 'init' -d 'Create a node\'s root directory and the directories the node keeps in it.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_positional "cl-worker" -eq 1' -fa 'sync' -d 'Run one sync step against the master and exit with its outcome (for cron).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_positional "cl-worker" -eq 1' -fa 'agents' -d 'Manage the worker\'s agents: upsert and remove them (JSON Lines), list them (JSON).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_positional "cl-worker" -eq 1' -fa 'nodes' -d 'List the cluster\'s nodes (JSON, or the cluster_control -l table).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_positional "cl-worker" -eq 1' -fa 'health' -d 'Show the cluster\'s health: every node, its last syncs and keepalive (JSON, or the cluster_control -i text).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_positional "cl-worker" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker run" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker run" log-format' -l 'log-format' -d 'Log line format: text (the reference\'s layout) or json (one object per line).' -rfka 'text json'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker run" log-level' -l 'log-level' -d 'Lowest level logged: debug, info, warning or error.' -rfka 'debug info warning error'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker run" on-change' -l 'on-change' -d 'Run this shell command after a sync that changed files; the apply report (JSON) is on its stdin.' -rfka ''
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker run" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker run" version' -l 'version' -d 'Show the version.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker run" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker init" root' -l 'root' -d 'The root to create (default: node.root of the configuration).' -rfka ''
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker init" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker init" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker init" version' -l 'version' -d 'Show the version.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker init" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker sync" version' -l 'version' -d 'Show the version.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker sync" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_positional "cl-worker sync" -eq 1' -fa 'integrity' -d 'One integrity cycle: send this worker\'s snapshot, apply what the master sends back.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_positional "cl-worker sync" -eq 1' -fa 'agent-info' -d 'Push the agents changed since the last confirmed push to the master, once.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker sync integrity" timeout' -l 'timeout' -d 'Give up after this many seconds.' -rfka ''
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker sync integrity" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker sync integrity" log-format' -l 'log-format' -d 'Log line format: text (the reference\'s layout) or json (one object per line).' -rfka 'text json'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker sync integrity" log-level' -l 'log-level' -d 'Lowest level logged: debug, info, warning or error.' -rfka 'debug info warning error'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker sync integrity" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker sync integrity" version' -l 'version' -d 'Show the version.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker sync integrity" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker sync agent-info" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker sync agent-info" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker sync agent-info" version' -l 'version' -d 'Show the version.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker sync agent-info" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents" version' -l 'version' -d 'Show the version.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_positional "cl-worker agents" -eq 1' -fa 'upsert' -d 'Add or update agents from JSON Lines on stdin (one agent per line).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_positional "cl-worker agents" -eq 1' -fa 'remove' -d 'Remove agents named by id, as arguments or as JSON Lines on stdin.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_positional "cl-worker agents" -eq 1' -fa 'list' -d 'List the node\'s agents as JSON: {"items": [...], "totalItems": n}.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents upsert" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents upsert" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents upsert" version' -l 'version' -d 'Show the version.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents upsert" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents remove" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents remove" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents remove" version' -l 'version' -d 'Show the version.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents remove" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents list" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents list" status' -l 'status' -d 'Only agents with these connection statuses (comma-separated: never_connected, pending, active, disconnected).' -rfka 'never_connected pending active disconnected'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents list" nodes' -l 'nodes' -d 'Only agents reporting to these nodes (comma-separated names).' -rfka '(__cl-worker_custom_completion ---completion agents list -- --nodes (count (__cl-worker_tokens -pc)) (__cl-worker_tokens -tC))'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents list" group' -l 'group' -d 'Only agents in any of these groups (comma-separated).' -rfka ''
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents list" select' -l 'select' -d 'Only these fields (comma-separated); id is always included.' -rfka ''
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents list" sort' -l 'sort' -d 'Sort keys, comma-separated, each with an optional + or - prefix (default: id); write --sort=-name for a leading -.' -rfka ''
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents list" offset' -l 'offset' -d 'Skip this many agents.' -rfka ''
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents list" limit' -l 'limit' -d 'Return at most this many agents (default: all).' -rfka ''
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents list" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents list" version' -l 'version' -d 'Show the version.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker agents list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker nodes" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker nodes" socket' -l 'socket' -d 'Talk to the node through this local socket instead of reading its configuration.' -rF
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker nodes" table' -l 'table' -d 'Print the table cluster_control -l prints instead of JSON.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker nodes" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker nodes" version' -l 'version' -d 'Show the version.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker nodes" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker health" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker health" socket' -l 'socket' -d 'Talk to the node through this local socket instead of reading its configuration.' -rF
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker health" table' -l 'table' -d 'Print what cluster_control -i prints instead of JSON.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker health" nodes' -l 'nodes' -d 'Only these nodes (comma-separated names).' -rfka '(__cl-worker_custom_completion ---completion health -- --nodes (count (__cl-worker_tokens -pc)) (__cl-worker_tokens -tC))'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker health" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker health" version' -l 'version' -d 'Show the version.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker health" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-worker' -n '__cl-worker_should_offer_completions_for_flags_or_options "cl-worker help" version' -l 'version' -d 'Show the version.'
