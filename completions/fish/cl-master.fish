function __cl-master_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __cl-master_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __cl-master_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __cl-master_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __cl-master_parse_tokens -S
    set -l unparsed_tokens (__cl-master_tokens -pc)
    switch $unparsed_tokens[1]
    case 'cl-master'
        __cl-master_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'run'
            __cl-master_parse_subcommand 0 'c/config=' 'log-format=' 'log-level=' 'json-errors' 'version' 'h/help'
        case 'init'
            __cl-master_parse_subcommand 0 'root=' 'c/config=' 'json-errors' 'version' 'h/help'
        case 'nodes'
            __cl-master_parse_subcommand 0 'c/config=' 'socket=' 'table' 'json-errors' 'version' 'h/help'
        case 'health'
            __cl-master_parse_subcommand 0 'c/config=' 'socket=' 'table' 'nodes=' 'json-errors' 'version' 'h/help'
        case 'agents'
            __cl-master_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'list'
                __cl-master_parse_subcommand 0 'c/config=' 'status=' 'nodes=' 'group=' 'select=' 'sort=' 'offset=' 'limit=' 'json-errors' 'version' 'h/help'
            case 'set-groups'
                __cl-master_parse_subcommand -r 1 'groups=' 'c/config=' 'json-errors' 'version' 'h/help'
            end
        case 'ha'
            __cl-master_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'status'
                __cl-master_parse_subcommand 0 'c/config=' 'socket=' 'json-errors' 'version' 'h/help'
            case 'resign'
                __cl-master_parse_subcommand 0 'c/config=' 'socket=' 'json-errors' 'version' 'h/help'
            end
        case 'help'
            __cl-master_parse_subcommand -r 1 'version'
        end
    end
end

function __cl-master_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __cl-master_parse_subcommand -S -a positional_count
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

function __cl-master_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __cl-master_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__cl-master_tokens -p)
    if test -z "$(__cl-master_tokens -t)"
        set -l index (count (__cl-master_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'cl-master' -f
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master" version' -l 'version' -d 'Show the version.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_positional "cl-master" -eq 1' -fa 'run' -d 'Run the master daemon in the foreground until SIGTERM or SIGINT.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_positional "cl-master" -eq 1' -fa 'init' -d 'Create a node\'s root directory and the directories the node keeps in it.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_positional "cl-master" -eq 1' -fa 'nodes' -d 'List the cluster\'s nodes (JSON, or the cluster_control -l table).'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_positional "cl-master" -eq 1' -fa 'health' -d 'Show the cluster\'s health: every node, its last syncs and keepalive (JSON, or the cluster_control -i text).'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_positional "cl-master" -eq 1' -fa 'agents' -d 'The master\'s agents: list them (JSON) and assign their groups.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_positional "cl-master" -eq 1' -fa 'ha' -d 'Master failover: who leads, and a planned hand-over.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_positional "cl-master" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master run" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master run" log-format' -l 'log-format' -d 'Log line format: text (the reference\'s layout) or json (one object per line).' -rfka 'text json'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master run" log-level' -l 'log-level' -d 'Lowest level logged: debug, info, warning or error.' -rfka 'debug info warning error'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master run" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master run" version' -l 'version' -d 'Show the version.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master run" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master init" root' -l 'root' -d 'The root to create (default: node.root of the configuration).' -rfka ''
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master init" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master init" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master init" version' -l 'version' -d 'Show the version.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master init" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master nodes" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master nodes" socket' -l 'socket' -d 'Talk to the node through this local socket instead of reading its configuration.' -rF
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master nodes" table' -l 'table' -d 'Print the table cluster_control -l prints instead of JSON.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master nodes" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master nodes" version' -l 'version' -d 'Show the version.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master nodes" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master health" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master health" socket' -l 'socket' -d 'Talk to the node through this local socket instead of reading its configuration.' -rF
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master health" table' -l 'table' -d 'Print what cluster_control -i prints instead of JSON.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master health" nodes' -l 'nodes' -d 'Only these nodes (comma-separated names).' -rfka '(__cl-master_custom_completion ---completion health -- --nodes (count (__cl-master_tokens -pc)) (__cl-master_tokens -tC))'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master health" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master health" version' -l 'version' -d 'Show the version.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master health" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents" version' -l 'version' -d 'Show the version.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_positional "cl-master agents" -eq 1' -fa 'list' -d 'List the node\'s agents as JSON: {"items": [...], "totalItems": n}.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_positional "cl-master agents" -eq 1' -fa 'set-groups' -d 'Assign agents\' groups (the list replaces the agent\'s groups, in priority order).'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents list" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents list" status' -l 'status' -d 'Only agents with these connection statuses (comma-separated: never_connected, pending, active, disconnected).' -rfka 'never_connected pending active disconnected'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents list" nodes' -l 'nodes' -d 'Only agents reporting to these nodes (comma-separated names).' -rfka '(__cl-master_custom_completion ---completion agents list -- --nodes (count (__cl-master_tokens -pc)) (__cl-master_tokens -tC))'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents list" group' -l 'group' -d 'Only agents in any of these groups (comma-separated).' -rfka ''
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents list" select' -l 'select' -d 'Only these fields (comma-separated); id is always included.' -rfka ''
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents list" sort' -l 'sort' -d 'Sort keys, comma-separated, each with an optional + or - prefix (default: id); write --sort=-name for a leading -.' -rfka ''
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents list" offset' -l 'offset' -d 'Skip this many agents.' -rfka ''
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents list" limit' -l 'limit' -d 'Return at most this many agents (default: all).' -rfka ''
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents list" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents list" version' -l 'version' -d 'Show the version.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents set-groups" groups' -l 'groups' -d 'The groups for the agents given as arguments (comma-separated; "" clears).' -rfka ''
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents set-groups" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents set-groups" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents set-groups" version' -l 'version' -d 'Show the version.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master agents set-groups" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master ha" version' -l 'version' -d 'Show the version.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master ha" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_positional "cl-master ha" -eq 1' -fa 'status' -d 'Show the election: the leader, its term, every master campaigning, and this master\'s own state (JSON).'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_positional "cl-master ha" -eq 1' -fa 'resign' -d 'Make the running leader hand leadership over (for maintenance).'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master ha status" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master ha status" socket' -l 'socket' -d 'Talk to the node through this local socket instead of reading its configuration.' -rF
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master ha status" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master ha status" version' -l 'version' -d 'Show the version.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master ha status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master ha resign" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master ha resign" socket' -l 'socket' -d 'Talk to the node through this local socket instead of reading its configuration.' -rF
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master ha resign" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master ha resign" version' -l 'version' -d 'Show the version.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master ha resign" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-master' -n '__cl-master_should_offer_completions_for_flags_or_options "cl-master help" version' -l 'version' -d 'Show the version.'
